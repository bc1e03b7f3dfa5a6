import { ImageFsError } from './errors.js';
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

/**
 * Where a regular file's bytes are: the layer and the entry's position in that layer's tar. A hard
 * link shares its source's blob, so content read once (in the first pass or a later re-read of
 * that layer) serves every name of the file.
 */
export interface Blob {
  layer: number;
  ordinal: number;
  size: number;
  content: Buffer | null;
  contentOmitted: 'too_large' | null;
}

/** An entry as the tree keeps it: its path is where it hangs; a directory has children. */
interface Node {
  type: EntryType;
  mode: number;
  /** Symlinks: the target as written. Hard links: the absolute path linked to. */
  linkTarget: string | null;
  /** Regular files and hard links; null for a hard link whose source was not in the image. */
  blob: Blob | null;
  children: Map<string, Node> | null;
}

export type NodeData = Omit<Node, 'children'>;

/** The longest path the kernel resolves (PATH_MAX): a longer link target fails as ENAMETOOLONG there too. */
const PATH_MAX = 4096;

function dirNode(mode = 0o755): Node {
  return { type: 'dir', mode, linkTarget: null, blob: null, children: new Map() };
}

interface Resolved {
  node: Node;
  components: string[];
}

/** Why a path does not resolve: absent (or a non-directory in the middle), or a link chain that never ends. */
export type Unresolved = 'missing' | 'loop' | 'name_too_long';

/**
 * Work done resolving paths in one image: every component walked counts against
 * `maxPathComponents`, every symlink followed in one lookup against `maxLinkHops`. Over the first
 * the whole read fails closed; over the second one lookup fails as the kernel's ELOOP would.
 */
export class PathBudget {
  private walked = 0;
  private sinceYield = 0;

  constructor(
    readonly maxPathComponents: number,
    readonly maxLinkHops: number,
  ) {}

  step(count = 1): void {
    this.walked += count;
    this.sinceYield += count;
    if (this.walked > this.maxPathComponents) {
      throw new ImageFsError(
        'limit_exceeded',
        `resolving paths walked more than ${this.maxPathComponents} components (limits.image.maxPathComponents): a symlink bomb?`,
      );
    }
  }

  /** True once enough work has been done since the last call that the caller should let the event loop run. */
  shouldYield(): boolean {
    if (this.sinceYield < 50_000) return false;
    this.sinceYield = 0;
    return true;
  }

  get components(): number {
    return this.walked;
  }
}

/** A wanted path of the final filesystem: its content, or why it has none. */
export type WantedFile =
  { path: string; realPath: string; blob: Blob; mode: number } | { path: string; realPath: string | null; blob: null; problem: string };

/**
 * The merged filesystem of the layers applied so far. Symlinks resolve inside the image as if it
 * were chrooted: an absolute target starts at the image root and `..` stops at the root, so no
 * link ever reaches the host or a path outside the image.
 */
export class FsTree {
  private readonly root: Node = dirNode();

  constructor(readonly budget: PathBudget) {}

  /**
   * Resolves `components`; every symlink is followed, the last one only when `followLast`.
   * Components are kept on a stack (next one last) so a link target of thousands of components
   * costs its length once, not its length squared.
   */
  private walk(components: readonly string[], followLast: boolean): Resolved | Unresolved {
    const nodes: Node[] = [this.root];
    const names: string[] = [];
    const stack = components.slice().reverse();
    let links = 0;
    while (stack.length > 0) {
      const name = stack.pop()!;
      this.budget.step();
      if (name === '' || name === '.') continue;
      if (name === '..') {
        if (names.length > 0) {
          names.pop();
          nodes.pop();
        }
        continue;
      }
      const parent = nodes[nodes.length - 1]!;
      const child = parent.children?.get(name);
      if (!parent.children || !child) return 'missing';
      if (child.type === 'symlink' && (stack.length > 0 || followLast)) {
        if (++links > this.budget.maxLinkHops) return 'loop';
        const target = child.linkTarget ?? '';
        if (target.length >= PATH_MAX) return 'name_too_long';
        if (target.startsWith('/')) {
          nodes.length = 1;
          names.length = 0;
        }
        const parts = target.split('/');
        for (let i = parts.length - 1; i >= 0; i--) stack.push(parts[i]!);
        continue;
      }
      nodes.push(child);
      names.push(name);
    }
    return { node: nodes[nodes.length - 1]!, components: names };
  }

  private found(components: readonly string[], followLast: boolean): Resolved | null {
    const r = this.walk(components, followLast);
    return typeof r === 'string' ? null : r;
  }

  /** The directory at `components`, created (and any non-directory in the way replaced) as extraction would. */
  private ensureDir(components: readonly string[]): Resolved {
    let dir = this.root;
    let names: string[] = [];
    for (const name of components) {
      this.budget.step();
      const existing = dir.children!.get(name);
      if (existing?.type === 'symlink') {
        const target = this.found([...names, name], true);
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

  /** Adds or replaces the entry; a directory over a directory keeps its children. Returns the final path. */
  put(components: readonly string[], data: NodeData): string {
    if (components.length === 0) {
      if (data.type === 'dir') this.root.mode = data.mode;
      return '/';
    }
    const parent = this.ensureDir(components.slice(0, -1));
    const name = components[components.length - 1]!;
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
    const parent = this.found(components.slice(0, -1), true);
    parent?.node.children?.delete(components[components.length - 1]!);
  }

  /** An opaque whiteout: the directory keeps only what the current layer puts in it. */
  clear(components: readonly string[]): void {
    this.found(components, true)?.node.children?.clear();
  }

  /** The blob a hard link shares: its source's (a file, or another hard link); null when there is none. */
  linkSource(components: readonly string[]): Blob | null {
    const found = this.found(components, false);
    return found && (found.node.type === 'file' || found.node.type === 'hardlink') ? found.node.blob : null;
  }

  lookup(path: string, followLast: boolean): ImageEntry | null {
    const found = this.found(queryComponents(path), followLast);
    return found ? toEntry(toPath(found.components), found.node) : null;
  }

  /** Like lookup, but says why a path does not resolve. */
  resolve(path: string): { entry: ImageEntry } | { problem: Unresolved } {
    const r = this.walk(queryComponents(path), true);
    return typeof r === 'string' ? { problem: r } : { entry: toEntry(toPath(r.components), r.node) };
  }

  realpath(path: string): string | null {
    const found = this.found(queryComponents(path), true);
    return found ? toPath(found.components) : null;
  }

  list(path: string): string[] | null {
    const found = this.found(queryComponents(path), true);
    return found?.node.children ? [...found.node.children.keys()].sort() : null;
  }

  /** Every entry, depth first, children in name order (deterministic). Symlinks are not followed. */
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

  /**
   * Every path `want` accepts, as a process in the image would reach it: symlinked directories are
   * entered (`/var/lib/dpkg` → `/opt/db` makes `/opt/db/status` the file at `/var/lib/dpkg/status`),
   * symlinked files and hard links resolve to the file they name. A wanted path that exists but does
   * not resolve to a regular file (dangling, a loop, a hard link to nothing, a directory) comes back
   * with its problem, so the caller can fail closed instead of skipping it. A directory already
   * open on the current path is entered once more at most, so a cycle ends; all the work counts
   * against the path budget. Yields to the event loop as it goes.
   */
  async wanted(want: (path: string) => boolean, pause: () => Promise<void>): Promise<WantedFile[]> {
    const out: WantedFile[] = [];
    const open = new Map<Node, number>();
    type Frame = { node: Node; logical: string; real: string[]; exit?: true };
    const stack: Frame[] = [{ node: this.root, logical: '', real: [] }];
    while (stack.length > 0) {
      const frame = stack.pop()!;
      if (frame.exit) {
        const n = open.get(frame.node)! - 1;
        if (n === 0) open.delete(frame.node);
        else open.set(frame.node, n);
        continue;
      }
      const entered = open.get(frame.node) ?? 0;
      if (entered >= 2) continue;
      open.set(frame.node, entered + 1);
      stack.push({ ...frame, exit: true });
      for (const [name, child] of frame.node.children ?? []) {
        this.budget.step();
        if (this.budget.shouldYield()) await pause();
        const logical = `${frame.logical}/${name}`;
        const real = [...frame.real, name];
        if (child.type === 'dir') {
          if (want(logical)) out.push({ path: logical, realPath: toPath(real), blob: null, problem: 'not a regular file (dir)' });
          stack.push({ node: child, logical, real });
          continue;
        }
        let node = child;
        let realPath = toPath(real);
        if (child.type === 'symlink') {
          const r = this.walk(real, true);
          if (typeof r === 'string') {
            if (want(logical)) out.push({ path: logical, realPath: null, blob: null, problem: linkProblem(r, child.linkTarget) });
            continue;
          }
          if (r.node.type === 'dir') {
            if (want(logical)) out.push({ path: logical, realPath: toPath(r.components), blob: null, problem: 'not a regular file (dir)' });
            stack.push({ node: r.node, logical, real: r.components });
            continue;
          }
          node = r.node;
          realPath = toPath(r.components);
        }
        if (!want(logical)) continue;
        if ((node.type === 'file' || node.type === 'hardlink') && node.blob)
          out.push({ path: logical, realPath, blob: node.blob, mode: node.mode });
        else if (node.type === 'hardlink')
          out.push({ path: logical, realPath, blob: null, problem: `a hard link to ${node.linkTarget}, which is not in the image` });
        else out.push({ path: logical, realPath, blob: null, problem: `not a regular file (${node.type})` });
      }
    }
    return out;
  }
}

function linkProblem(reason: Unresolved, target: string | null): string {
  const to = JSON.stringify((target ?? '').slice(0, 200));
  if (reason === 'loop') return `a symlink to ${to} that does not end (a loop, or more links than limits.image.maxLinkHops)`;
  if (reason === 'name_too_long') return `a symlink whose target is longer than ${PATH_MAX} bytes`;
  return `a symlink to ${to}, which does not resolve inside the image`;
}

function toEntry(path: string, node: Node): ImageEntry {
  return {
    path,
    type: node.type,
    mode: node.mode,
    size: node.blob?.size ?? 0,
    linkTarget: node.linkTarget,
    content: node.blob?.content ?? null,
    contentOmitted: node.blob?.contentOmitted ?? null,
  };
}
