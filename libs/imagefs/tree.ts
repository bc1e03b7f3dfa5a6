import { queryComponents, toPath } from './paths.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

/** One path of the image's final filesystem, as the last layer that touched it left it. */
export interface ImageEntry {
  path: string;
  type: EntryType;
  mode: number;
  size: number;
  /** Symlinks: the target as written (may be relative or absolute). Hard links: the absolute path linked to. */
  linkTarget: string | null;
  /** Regular files (and hard links to them) the caller wanted, up to `maxFileBytes`; else null. */
  content: Buffer | null;
  /** Why a wanted file has no content. */
  contentOmitted: 'too_large' | null;
}

/** An entry as the tree keeps it: its path is where it hangs; a directory has children. */
interface Node extends Omit<ImageEntry, 'path'> {
  children: Map<string, Node> | null;
}

export type NodeData = Omit<Node, 'children'>;

const MAX_SYMLINKS = 40;

function dirNode(mode = 0o755): Node {
  return { type: 'dir', mode, size: 0, linkTarget: null, content: null, contentOmitted: null, children: new Map() };
}

interface Resolved {
  node: Node;
  components: string[];
}

/**
 * The merged filesystem of the layers applied so far. Symlinks resolve inside the image as if it
 * were chrooted: an absolute target starts at the image root and `..` stops at the root, so no
 * link ever reaches the host or a path outside the image.
 */
export class FsTree {
  private readonly root: Node = dirNode();

  /** Resolves `components`; every symlink is followed, the last one only when `followLast`. */
  private walk(components: readonly string[], followLast: boolean): Resolved | null {
    const nodes: Node[] = [this.root];
    const names: string[] = [];
    const queue = [...components];
    let links = 0;
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        if (names.length > 0) {
          names.pop();
          nodes.pop();
        }
        continue;
      }
      const parent = nodes[nodes.length - 1];
      const child = parent.children?.get(name);
      if (!parent.children || !child) return null;
      if (child.type === 'symlink' && (queue.length > 0 || followLast)) {
        if (++links > MAX_SYMLINKS) return null;
        const target = child.linkTarget ?? '';
        if (target.startsWith('/')) {
          nodes.length = 1;
          names.length = 0;
        }
        queue.unshift(...target.split('/'));
        continue;
      }
      nodes.push(child);
      names.push(name);
    }
    return { node: nodes[nodes.length - 1], components: names };
  }

  /** The directory at `components`, created (and any non-directory in the way replaced) as extraction would. */
  private ensureDir(components: readonly string[]): Resolved {
    let dir = this.root;
    let names: string[] = [];
    for (const name of components) {
      const existing = dir.children!.get(name);
      if (existing?.type === 'symlink') {
        const target = this.walk([...names, name], true);
        if (target && target.node.type === 'dir') {
          dir = target.node;
          names = target.components;
          continue;
        }
      }
      if (existing?.type === 'dir') {
        dir = existing;
      } else {
        const created = dirNode();
        dir.children!.set(name, created);
        dir = created;
      }
      names.push(name);
    }
    return { node: dir, components: names };
  }

  /** Where an entry at `components` would land now (parents resolved), without changing anything. */
  landingPath(components: readonly string[]): string {
    if (components.length === 0) return '/';
    const parent = this.walk(components.slice(0, -1), true);
    return parent ? toPath([...parent.components, components[components.length - 1]]) : toPath(components);
  }

  /** Adds or replaces the entry; a directory over a directory keeps its children. Returns the final path. */
  put(components: readonly string[], data: NodeData): string {
    if (components.length === 0) {
      if (data.type === 'dir') this.root.mode = data.mode;
      return '/';
    }
    const parent = this.ensureDir(components.slice(0, -1));
    const name = components[components.length - 1];
    const existing = parent.node.children!.get(name);
    if (data.type === 'dir' && existing?.type === 'dir') {
      existing.mode = data.mode;
    } else {
      parent.node.children!.set(name, { ...data, children: data.type === 'dir' ? new Map() : null });
    }
    return toPath([...parent.components, name]);
  }

  /** A whiteout: the path and everything under it are gone. */
  remove(components: readonly string[]): void {
    if (components.length === 0) return;
    const parent = this.walk(components.slice(0, -1), true);
    parent?.node.children?.delete(components[components.length - 1]);
  }

  /** An opaque whiteout: the directory keeps only what the current layer puts in it. */
  clear(components: readonly string[]): void {
    const dir = this.walk(components, true);
    dir?.node.children?.clear();
  }

  /** The entry a hard link points at, for its type, size and content. */
  linkSource(components: readonly string[]): NodeData | null {
    const found = this.walk(components, false);
    return found && found.node.type !== 'dir' ? found.node : null;
  }

  lookup(path: string, followLast: boolean): ImageEntry | null {
    const found = this.walk(queryComponents(path), followLast);
    return found ? toEntry(toPath(found.components), found.node) : null;
  }

  realpath(path: string): string | null {
    const found = this.walk(queryComponents(path), true);
    return found ? toPath(found.components) : null;
  }

  list(path: string): string[] | null {
    const found = this.walk(queryComponents(path), true);
    return found?.node.children ? [...found.node.children.keys()].sort() : null;
  }

  /** Every entry, depth first, children in name order (deterministic). */
  *entries(): Generator<ImageEntry> {
    const stack: [string[], Node][] = [[[], this.root]];
    while (stack.length > 0) {
      const [components, node] = stack.pop()!;
      if (components.length > 0) yield toEntry(toPath(components), node);
      if (node.children) {
        const names = [...node.children.keys()].sort().reverse();
        for (const name of names) stack.push([[...components, name], node.children.get(name)!]);
      }
    }
  }
}

function toEntry(path: string, node: Node): ImageEntry {
  return { path, type: node.type, mode: node.mode, size: node.size, linkTarget: node.linkTarget, content: node.content, contentOmitted: node.contentOmitted };
}
