import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, type Header } from 'tar-stream';
import { isIndexType, isRegistryError, type Descriptor, type RegistryClient, type RepositoryLocation } from '../registry/index.js';
import { declaredCompression, decompressor, sniffCompression, type LayerCompression } from './decompress.js';
import { ImageFsError } from './errors.js';
import { entryComponents, toPath } from './paths.js';
import { FsTree, type EntryType, type ImageEntry, type NodeData } from './tree.js';

export interface ReadImageOptions {
  /** Absolute paths (`/var/lib/dpkg/status`) whose content the caller needs. Default: none. */
  want?: (path: string) => boolean;
  /** Wanted files larger than this keep no content (`contentOmitted: 'too_large'`). Default 32 MiB. */
  maxFileBytes?: number;
  /** All wanted content held at once; more is an error. Default 256 MiB. */
  maxContentBytes?: number;
  /** Tar entries over all layers; more is an error. Default 500,000. */
  maxEntries?: number;
  signal?: AbortSignal;
}

export interface LayerInfo {
  digest: string;
  mediaType: string;
  size: number;
  compression: LayerCompression;
  entries: number;
}

const MiB = 1024 * 1024;
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** The final filesystem of one image: every path's metadata, and the content of the wanted files. */
export class ImageFs {
  constructor(
    private readonly tree: FsTree,
    readonly manifestDigest: string,
    readonly layers: LayerInfo[],
    private readonly wanted: (path: string) => boolean,
  ) {}

  /** The entry itself (a symlink stays a symlink), like lstat; null when absent. */
  lstat(path: string): ImageEntry | null {
    return this.tree.lookup(path, false);
  }

  /** The entry after following symlinks inside the image, like stat; null when absent or dangling. */
  stat(path: string): ImageEntry | null {
    return this.tree.lookup(path, true);
  }

  /** True when the path exists after following symlinks (`/bin/sh` → `/usr/bin/dash`). */
  exists(path: string): boolean {
    return this.stat(path) !== null;
  }

  /** True when any of the paths exists. */
  existsAny(paths: readonly string[]): boolean {
    return paths.some((p) => this.exists(p));
  }

  /** The path with every symlink resolved inside the image, or null when it does not resolve. */
  realpath(path: string): string | null {
    return this.tree.realpath(path);
  }

  /** Content of a wanted regular file (following symlinks), or null. */
  read(path: string): Buffer | null {
    return this.stat(path)?.content ?? null;
  }

  /** Names in a directory, sorted; null when it is not a directory. */
  list(path: string): string[] | null {
    return this.tree.list(path);
  }

  /** Every entry, in path order. */
  entries(): Generator<ImageEntry> {
    return this.tree.entries();
  }

  /** The wanted regular files (and hard links to them), in path order, content when kept. */
  *files(): Generator<ImageEntry> {
    for (const entry of this.tree.entries()) {
      if ((entry.type === 'file' || entry.type === 'hardlink') && this.wanted(entry.path)) yield entry;
    }
  }
}

type Change =
  | { kind: 'whiteout'; components: string[] }
  | { kind: 'opaque'; components: string[] }
  | { kind: 'entry'; components: string[]; data: NodeData; keep: boolean };

/**
 * Reads the final filesystem of a single-platform image: layers bottom to top, each streamed
 * through gunzip or zstd and a tar parser; only wanted file contents are kept, so memory follows
 * the number of paths, not the size of the layers. Registry failures propagate as RegistryError
 * (worth a retry); anything wrong with the image itself is an ImageFsError.
 */
export async function readImageFiles(
  client: RegistryClient,
  location: RepositoryLocation,
  manifestDigest: string,
  options: ReadImageOptions = {},
): Promise<ImageFs> {
  const want = options.want ?? (() => false);
  const limits = {
    maxFileBytes: options.maxFileBytes ?? 32 * MiB,
    maxContentBytes: options.maxContentBytes ?? 256 * MiB,
    maxEntries: options.maxEntries ?? 500_000,
  };
  const manifest = await client.getManifest(location, manifestDigest, options.signal);
  if (isIndexType(manifest.mediaType) || manifest.json.manifests) {
    throw new ImageFsError('not_a_manifest', `${manifestDigest} is an index; read each platform's manifest`);
  }
  const layers = manifest.json.layers;
  if (!Array.isArray(layers)) throw new ImageFsError('not_a_manifest', `${manifestDigest} lists no layers`);

  const tree = new FsTree();
  const state = { entries: 0, contentBytes: 0 };
  const infos: LayerInfo[] = [];
  for (const [index, layer] of layers.entries()) {
    const declared = declaredCompression(layer.mediaType);
    if (declared === null) {
      throw new ImageFsError('unsupported_layer', `layer ${index} (${layer.digest}) has media type ${layer.mediaType}, not a filesystem layer`);
    }
    const chunks = await client.openBlob(location, layer, options.signal);
    const { changes, compression, entries } = await readLayer(chunks, layer, index, declared, tree, want, limits, state);
    applyChanges(tree, changes, want);
    infos.push({ digest: layer.digest, mediaType: layer.mediaType, size: layer.size, compression, entries });
  }
  return new ImageFs(tree, manifest.digest, infos, want);
}

interface Limits {
  maxFileBytes: number;
  maxContentBytes: number;
  maxEntries: number;
}

async function readLayer(
  chunks: AsyncGenerator<Uint8Array>,
  layer: Descriptor,
  index: number,
  declared: LayerCompression | 'unknown',
  tree: FsTree,
  want: (path: string) => boolean,
  limits: Limits,
  state: { entries: number; contentBytes: number },
): Promise<{ changes: Change[]; compression: LayerCompression; entries: number }> {
  const where = `layer ${index} (${layer.digest})`;
  const { head, rest } = await peek(chunks, 4);
  const compression = sniffCompression(head);
  if ((declared === 'gzip' || declared === 'zstd') && compression !== declared) {
    await chunks.return(undefined);
    throw new ImageFsError('corrupt_layer', `${where} is declared ${declared} (${layer.mediaType}) but its bytes are ${compression === 'none' ? 'not compressed' : compression}`);
  }

  const changes: Change[] = [];
  let entries = 0;
  const extract = tarExtract();
  const stages = [Readable.from(rest), decompressor(compression), extract].filter((s) => s !== null);
  const feeding = pipeline(stages as [Readable, ...NodeJS.WritableStream[]]);
  feeding.catch(() => undefined);
  try {
    for await (const entry of extract) {
      if (++state.entries > limits.maxEntries) {
        throw new ImageFsError('too_many_entries', `image has more than ${limits.maxEntries} filesystem entries (at ${where})`);
      }
      entries++;
      const change = classify(entry.header, tree, want);
      let content: Buffer[] | null = change?.kind === 'entry' && change.keep && change.data.size <= limits.maxFileBytes ? [] : null;
      if (content && change?.kind === 'entry') {
        state.contentBytes += change.data.size;
        if (state.contentBytes > limits.maxContentBytes) {
          throw new ImageFsError('too_much_content', `wanted files exceed ${limits.maxContentBytes} bytes (at ${where})`);
        }
      }
      for await (const chunk of entry) content?.push(chunk as Buffer);
      if (change?.kind === 'entry' && change.keep) {
        if (content) change.data.content = Buffer.concat(content);
        else change.data.contentOmitted = 'too_large';
      }
      if (change) changes.push(change);
    }
    await feeding;
  } catch (err) {
    extract.destroy();
    await chunks.return(undefined).catch(() => undefined);
    if (err instanceof ImageFsError) throw err;
    if (isRegistryError(err)) throw err;
    throw new ImageFsError('corrupt_layer', `${where}: ${describe(err, compression)}`, { cause: err });
  }
  return { changes, compression, entries };
}

function classify(header: Header, tree: FsTree, want: (path: string) => boolean): Change | null {
  const components = entryComponents(header.name);
  const base = components[components.length - 1] ?? '';
  if (base === OPAQUE) return { kind: 'opaque', components: components.slice(0, -1) };
  if (base.startsWith(WHITEOUT)) {
    // `.wh..wh.plnk` and friends are aufs bookkeeping, not deletions.
    if (base.startsWith(WHITEOUT + WHITEOUT)) return null;
    return { kind: 'whiteout', components: [...components.slice(0, -1), base.slice(WHITEOUT.length)] };
  }
  const type = entryType(header.type);
  let linkTarget: string | null = null;
  if (type === 'symlink') linkTarget = header.linkname ?? '';
  if (type === 'hardlink') linkTarget = toPath(entryComponents(header.linkname ?? ''));
  const size = type === 'file' ? (header.size ?? 0) : 0;
  const keep = (type === 'file' || type === 'hardlink') && (want(toPath(components)) || want(tree.landingPath(components)));
  return {
    kind: 'entry',
    components,
    keep,
    data: { type, mode: header.mode ?? 0, size, linkTarget, content: null, contentOmitted: null },
  };
}

function entryType(type: Header['type'] | null | undefined): EntryType {
  switch (type) {
    case 'file':
    case 'contiguous-file':
    case undefined:
    case null:
      return 'file';
    case 'directory':
      return 'dir';
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'hardlink';
    default:
      return 'other';
  }
}

/** Whiteouts and opaque markers hide lower layers only, whatever their order in this layer's tar. */
function applyChanges(tree: FsTree, changes: Change[], want: (path: string) => boolean): void {
  for (const c of changes) {
    if (c.kind === 'opaque') tree.clear(c.components);
    else if (c.kind === 'whiteout') tree.remove(c.components);
  }
  for (const c of changes) {
    if (c.kind !== 'entry') continue;
    const data = c.data;
    if (data.type === 'hardlink') {
      const source = tree.linkSource(entryComponents(data.linkTarget ?? ''));
      if (source) {
        data.size = source.size;
        data.content = source.content;
        data.contentOmitted = source.contentOmitted;
      }
    }
    const path = tree.put(c.components, data);
    if (data.content && !c.keep && !want(path)) data.content = null;
  }
}

async function peek(source: AsyncGenerator<Uint8Array>, bytes: number): Promise<{ head: Buffer; rest: AsyncGenerator<Uint8Array> }> {
  const buffered: Uint8Array[] = [];
  let length = 0;
  let done = false;
  while (length < bytes) {
    const next = await source.next();
    if (next.done) {
      done = true;
      break;
    }
    buffered.push(next.value);
    length += next.value.length;
  }
  const head = Buffer.concat(buffered);
  async function* rest(): AsyncGenerator<Uint8Array> {
    if (head.length > 0) yield head;
    if (done) return;
    yield* source;
  }
  return { head, rest: rest() };
}

function describe(err: unknown, compression: LayerCompression): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code;
  if (compression === 'gzip' && (code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(message))) return 'gzip stream ends early (truncated)';
  if (compression === 'gzip' && typeof code === 'string' && code.startsWith('Z_')) return `corrupt gzip data: ${message}`;
  if (/Invalid tar header/i.test(message)) return 'not a tar archive (invalid tar header)';
  if (/Unexpected end of data/i.test(message)) return 'tar archive ends early (truncated)';
  return message;
}
