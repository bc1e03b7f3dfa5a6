import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { extract as tarExtract, type Header } from 'tar-stream';
import { isIndexType, isRegistryError, type Descriptor, type RegistryClient, type RepositoryLocation } from '#libs/registry/index.js';
import { declaredCompression, gunzip, MAX_ZSTD_WINDOW, sniffCompression, zstdDecompress, type LayerCompression } from './decompress.js';
import { ImageFsError } from './errors.js';
import { entryComponents, toPath } from './paths.js';
import { FsTree, PathBudget, type Blob, type EntryType, type ImageEntry, type NodeData } from './tree.js';

/** Bounds on reading one image; every one fails the read closed, naming its `limits.image` key. */
export interface ImageReadLimits {
  /** Bytes out of the decompressors (tar bytes), all layers and re-reads together. Default 8 GiB. */
  maxUncompressedBytes: number;
  /** Wanted files larger than this keep no content: a detector that needs one fails closed. Default 32 MiB. */
  maxFileBytes: number;
  /** All wanted content held at once. Default 256 MiB. */
  maxContentBytes: number;
  /** Tar entries over all layers. Default 500,000. */
  maxEntries: number;
  /** The whole read, from the manifest to the last wanted file. Default 2 min. */
  maxWallTimeMs: number;
  /** Path components walked resolving paths and links, all lookups together. Default 10,000,000. */
  maxPathComponents: number;
  /** Symlinks followed in one lookup (the kernel's is 40): more is a loop. Default 40. */
  maxLinkHops: number;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const DEFAULT_IMAGE_LIMITS: Readonly<ImageReadLimits> = Object.freeze({
  maxUncompressedBytes: 8 * GiB,
  maxFileBytes: 32 * MiB,
  maxContentBytes: 256 * MiB,
  maxEntries: 500_000,
  maxWallTimeMs: 2 * 60_000,
  maxPathComponents: 10_000_000,
  maxLinkHops: 40,
});

export interface ReadImageOptions extends Partial<ImageReadLimits> {
  /** Absolute paths (`/var/lib/dpkg/status`) whose content the caller needs. Default: none. */
  want?: (path: string) => boolean;
  signal?: AbortSignal;
}

export interface LayerInfo {
  digest: string;
  mediaType: string;
  size: number;
  compression: LayerCompression;
  entries: number;
}

/** A wanted path as a process in the image reaches it, with its content or why it has none. */
export interface WantedEntry {
  /** The path asked for, e.g. `/var/lib/dpkg/status` (even when `/var/lib/dpkg` links elsewhere). */
  path: string;
  /** Where the file really is after following links; null when it does not resolve. */
  realPath: string | null;
  size: number;
  content: Buffer | null;
  /** Why there is no content: too large, or the link does not resolve to a regular file. */
  problem: string | null;
}

/** What reading one image cost: for the benchmark and the evidence of a refusal. */
export interface ReadStats {
  uncompressedBytes: number;
  entries: number;
  pathComponents: number;
  /** Layers read a second time for wanted files that only links reached. */
  rereadLayers: number;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
/** Tar bytes between turns of the event loop. */
const YIELD_BYTES = MiB;

/** The final filesystem of one image: every path's metadata, and the content of the wanted files. */
export class ImageFs {
  constructor(
    private readonly tree: FsTree,
    readonly manifestDigest: string,
    readonly layers: LayerInfo[],
    private readonly wantedFiles: WantedEntry[],
    readonly stats: ReadStats,
  ) {}

  /** The entry itself (a symlink stays a symlink), like lstat; null when absent. */
  lstat(path: string): ImageEntry | null {
    return this.tree.lookup(path, false);
  }

  /** The entry after following symlinks inside the image, like stat; null when absent or dangling. */
  stat(path: string): ImageEntry | null {
    return this.tree.lookup(path, true);
  }

  /**
   * Like stat, but says why a path does not resolve: `missing` (absent or dangling), `loop`
   * (more than maxLinkHops links) or `name_too_long`.
   */
  resolve(path: string): ReturnType<FsTree['resolve']> {
    return this.tree.resolve(path);
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

  /** Content of a wanted regular file (following symlinks and hard links), or null. */
  read(path: string): Buffer | null {
    return this.stat(path)?.content ?? null;
  }

  /** Names in a directory, sorted; null when it is not a directory. */
  list(path: string): string[] | null {
    return this.tree.list(path);
  }

  /** Every entry, in path order (links not followed). */
  entries(): Generator<ImageEntry> {
    return this.tree.entries();
  }

  /**
   * Every wanted path, in path order, as a process in the image reaches it: through symlinked
   * directories, symlinks and hard links. An entry with a `problem` exists but cannot be read:
   * callers must fail closed on it, never skip it.
   */
  files(): readonly WantedEntry[] {
    return this.wantedFiles;
  }
}

type Change =
  | { kind: 'whiteout'; components: string[] }
  | { kind: 'opaque'; components: string[] }
  | { kind: 'entry'; components: string[]; data: NodeData };

interface ReadState {
  limits: ImageReadLimits;
  entries: number;
  contentBytes: number;
  uncompressedBytes: number;
  rereadLayers: number;
  deadline: number;
  signal: AbortSignal;
}

/**
 * Reads the final filesystem of a single-platform image: layers bottom to top, each streamed
 * through gunzip or zstd and a tar parser, applied with whiteouts; then the wanted paths are
 * resolved through links in the final tree, and any layer holding a wanted file that only a link
 * reached is read again for that file's bytes. Memory follows the number of paths and the wanted
 * content, not the size of the layers; every bound in ImageReadLimits fails the read closed.
 * Registry failures propagate as RegistryError (worth a retry); anything wrong with the image
 * itself, or over a limit, is an ImageFsError.
 */
export async function readImageFiles(
  client: RegistryClient,
  location: RepositoryLocation,
  manifestDigest: string,
  options: ReadImageOptions = {},
): Promise<ImageFs> {
  const want = options.want ?? (() => false);
  const limits: ImageReadLimits = { ...DEFAULT_IMAGE_LIMITS };
  for (const key of Object.keys(DEFAULT_IMAGE_LIMITS) as (keyof ImageReadLimits)[]) {
    if (options[key] !== undefined) limits[key] = options[key];
  }
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), limits.maxWallTimeMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timer.signal]) : timer.signal;
  const state: ReadState = {
    limits,
    entries: 0,
    contentBytes: 0,
    uncompressedBytes: 0,
    rereadLayers: 0,
    deadline: Date.now() + limits.maxWallTimeMs,
    signal,
  };
  try {
    return await read(client, location, manifestDigest, want, state);
  } catch (err) {
    if (timer.signal.aborted && !(err instanceof ImageFsError && err.code !== 'corrupt_layer')) throw wallTimeError(limits);
    throw err;
  } finally {
    clearTimeout(timeout);
  }
}

function wallTimeError(limits: ImageReadLimits): ImageFsError {
  return new ImageFsError(
    'limit_exceeded',
    `reading the image took longer than ${limits.maxWallTimeMs / 1000} s (limits.image.maxWallTime)`,
  );
}

async function read(
  client: RegistryClient,
  location: RepositoryLocation,
  manifestDigest: string,
  want: (path: string) => boolean,
  state: ReadState,
): Promise<ImageFs> {
  const manifest = await client.getManifest(location, manifestDigest, state.signal);
  if (isIndexType(manifest.mediaType) || manifest.json.manifests) {
    throw new ImageFsError('not_a_manifest', `${manifestDigest} is an index; read each platform's manifest`);
  }
  const layers = manifest.json.layers;
  if (!Array.isArray(layers)) throw new ImageFsError('not_a_manifest', `${manifestDigest} lists no layers`);
  const tree = new FsTree(new PathBudget(state.limits.maxPathComponents, state.limits.maxLinkHops));
  const infos: LayerInfo[] = [];
  const compressions: (LayerCompression | 'unknown')[] = [];
  for (const [index, layer] of layers.entries()) {
    const declared = declaredCompression(layer.mediaType);
    if (declared === null) {
      throw new ImageFsError(
        'unsupported_layer',
        `layer ${index} (${layer.digest}) has media type ${layer.mediaType}, not a filesystem layer`,
      );
    }
    compressions.push(declared);
    const changes: Change[] = [];
    const { compression, entries } = await readLayer(client, location, layer, index, declared, state, (header, ordinal, size) => {
      const change = classify(header, index, ordinal, size);
      if (change) changes.push(change);
      // The first pass keeps what is wanted at its own path; links are resolved once the tree is whole.
      return change?.kind === 'entry' && change.data.blob && want(toPath(change.components)) ? change.data.blob : null;
    });
    await applyChanges(tree, changes, () => pause(state));
    infos.push({ digest: layer.digest, mediaType: layer.mediaType, size: layer.size, compression, entries });
  }

  const found = await tree.wanted(want, () => pause(state));
  // Wanted files whose bytes the first pass did not keep (a link led to them): read those layers again.
  const missing = new Map<number, Map<number, Blob>>();
  for (const f of found) {
    if (!f.blob || f.blob.content || f.blob.contentOmitted) continue;
    if (f.blob.size > state.limits.maxFileBytes) {
      f.blob.contentOmitted = 'too_large';
      continue;
    }
    let inLayer = missing.get(f.blob.layer);
    if (!inLayer) missing.set(f.blob.layer, (inLayer = new Map()));
    inLayer.set(f.blob.ordinal, f.blob);
  }
  for (const [index, blobs] of [...missing].sort((a, b) => a[0] - b[0])) {
    state.rereadLayers++;
    await readLayer(
      client,
      location,
      layers[index]!,
      index,
      compressions[index]!,
      state,
      (_header, ordinal) => blobs.get(ordinal) ?? null,
      true,
    );
  }

  const files: WantedEntry[] = found
    .map((f) => {
      if (!f.blob) return { path: f.path, realPath: f.realPath, size: 0, content: null, problem: f.problem };
      const tooLarge = f.blob.contentOmitted === 'too_large';
      const problem = tooLarge
        ? `larger than limits.image.maxFileBytes (${f.blob.size} bytes, at most ${state.limits.maxFileBytes} are read)`
        : f.blob.content
          ? null
          : 'its content could not be found in its layer';
      return { path: f.path, realPath: f.realPath, size: f.blob.size, content: f.blob.content, problem };
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const stats = {
    uncompressedBytes: state.uncompressedBytes,
    entries: state.entries,
    pathComponents: tree.budget.components,
    rereadLayers: state.rereadLayers,
  };
  return new ImageFs(tree, manifest.digest, infos, files, stats);
}

/** Lets the event loop run (health checks, other jobs) and stops the read once its time is up. */
async function pause(state: ReadState): Promise<void> {
  await nextTurn();
  if (Date.now() > state.deadline) throw wallTimeError(state.limits);
  state.signal.throwIfAborted();
}

/**
 * Streams one layer's tar entries; `keep` says, per entry, which blob (if any) receives its bytes.
 * A re-read (`again`) counts bytes against the same limits but not entries.
 */
async function readLayer(
  client: RegistryClient,
  location: RepositoryLocation,
  layer: Descriptor,
  index: number,
  declared: LayerCompression | 'unknown',
  state: ReadState,
  keep: (header: Header, ordinal: number, size: number) => Blob | null,
  again = false,
): Promise<{ compression: LayerCompression; entries: number }> {
  const where = `layer ${index} (${layer.digest})`;
  const { limits } = state;
  const chunks = await client.openBlob(location, layer, state.signal);
  const { head, rest } = await peek(chunks, 4);
  const compression = sniffCompression(head);
  if ((declared === 'gzip' || declared === 'zstd') && compression !== declared) {
    await chunks.return(undefined);
    throw new ImageFsError(
      'corrupt_layer',
      `${where} is declared ${declared} (${layer.mediaType}) but its bytes are ${compression === 'none' ? 'not compressed' : compression}`,
    );
  }
  let entries = 0;
  let sinceYield = 0;
  const counted = async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      state.uncompressedBytes += chunk.length;
      if (state.uncompressedBytes > limits.maxUncompressedBytes) {
        throw new ImageFsError(
          'limit_exceeded',
          `the image unpacks to more than ${limits.maxUncompressedBytes} bytes (limits.image.maxUncompressedBytes), at ${where}`,
        );
      }
      sinceYield += chunk.length;
      if (sinceYield >= YIELD_BYTES) {
        sinceYield = 0;
        await pause(state);
      }
      yield chunk;
    }
  };
  const extract = tarExtract();
  const source = Readable.from(rest);
  const feeding =
    compression === 'gzip'
      ? pipeline(source, gunzip(), counted, extract, { signal: state.signal })
      : compression === 'zstd'
        ? pipeline(source, (s: AsyncIterable<Uint8Array>) => zstdDecompress(s, MAX_ZSTD_WINDOW), counted, extract, { signal: state.signal })
        : pipeline(source, counted, extract, { signal: state.signal });
  feeding.catch(() => undefined);
  try {
    for await (const entry of extract) {
      const ordinal = entries++;
      if (!again && ++state.entries > limits.maxEntries) {
        throw new ImageFsError(
          'too_many_entries',
          `image has more than ${limits.maxEntries} filesystem entries (limits.image.maxEntries), at ${where}`,
        );
      }
      const size = entry.header.size ?? 0;
      const blob = keep(entry.header, ordinal, size);
      let content: Buffer[] | null = null;
      if (blob && !blob.content) {
        if (size > limits.maxFileBytes) blob.contentOmitted = 'too_large';
        else {
          state.contentBytes += size;
          if (state.contentBytes > limits.maxContentBytes) {
            throw new ImageFsError(
              'too_much_content',
              `wanted files exceed ${limits.maxContentBytes} bytes (limits.image.maxContentBytes), at ${where}`,
            );
          }
          content = [];
        }
      }
      for await (const chunk of entry) content?.push(chunk as Buffer);
      if (blob && content) blob.content = Buffer.concat(content);
    }
    await feeding;
  } catch (err) {
    extract.destroy();
    await chunks.return(undefined).catch(() => undefined);
    if (err instanceof ImageFsError) throw err;
    if (isRegistryError(err)) throw err;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof ImageFsError) throw cause;
    if (state.signal.aborted) throw err;
    throw new ImageFsError('corrupt_layer', `${where}: ${describe(err, compression)}`, { cause: err });
  }
  return { compression, entries };
}

function classify(header: Header, layer: number, ordinal: number, size: number): Change | null {
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
  const blob: Blob | null = type === 'file' ? { layer, ordinal, size, content: null, contentOmitted: null } : null;
  return { kind: 'entry', components, data: { type, mode: header.mode ?? 0, linkTarget, blob } };
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

/**
 * Whiteouts and opaque markers hide lower layers only, whatever their order in this layer's tar.
 * A layer of half a million entries takes a while to apply: the event loop gets turns meanwhile.
 */
async function applyChanges(tree: FsTree, changes: Change[], pause: () => Promise<void>): Promise<void> {
  for (const c of changes) {
    if (c.kind === 'opaque') tree.clear(c.components);
    else if (c.kind === 'whiteout') tree.remove(c.components);
  }
  for (const [i, c] of changes.entries()) {
    if (i % 20_000 === 19_999) await pause();
    if (c.kind !== 'entry') continue;
    // A hard link names the file as it is when the link is made; it shares that file's bytes.
    if (c.data.type === 'hardlink') c.data.blob = tree.linkSource(entryComponents(c.data.linkTarget ?? ''));
    tree.put(c.components, c.data);
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
  if (compression === 'gzip' && (code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(message)))
    return 'gzip stream ends early (truncated)';
  if (compression === 'gzip' && typeof code === 'string' && code.startsWith('Z_')) return `corrupt gzip data: ${message}`;
  if (/Invalid tar header/i.test(message)) return 'not a tar archive (invalid tar header)';
  if (/Unexpected end of data/i.test(message)) return 'tar archive ends early (truncated)';
  return message;
}
