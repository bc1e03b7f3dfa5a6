import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Inflate, Unzip, type FlateError, type UnzipDecoder } from 'fflate';
import { VulnDbImportError } from './errors.js';

/** One JSON document of an import: a file, or an entry of a zip archive (`all.zip:CVE-….json`). */
export interface OsvDocument {
  name: string;
  bytes: Uint8Array;
  /** Set when the document is larger than `maxRecordBytes`: its bytes were not kept (`bytes` is empty). */
  tooLarge?: { limit: number; /** Known for files; a zip entry stops inflating at the limit. */ size?: number };
}

export interface ReadOsvOptions {
  /** A file or zip entry larger than this is skipped unread (reported as too large). Default 4 MiB. */
  maxRecordBytes?: number;
}

export const DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024;
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** Compressed bytes fed to the inflater at once: a 1000:1 entry then yields 16 MiB per step, not 64. */
const READ_CHUNK = 16 * 1024;

/**
 * The OSV documents under PATH: a JSON file, a zip archive (OSV's per-ecosystem `all.zip`), or a
 * directory of either, walked in name order. Zip archives are read as a stream, entry by entry,
 * so memory holds one record at a time whatever the archive's size.
 */
export async function* readOsvPath(path: string, options: ReadOsvOptions = {}): AsyncGenerator<OsvDocument> {
  const limit = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new VulnDbImportError(`cannot read ${path}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
  });
  if (info.isDirectory()) {
    const names = (await readdir(path)).sort();
    for (const name of names) {
      const child = join(path, name);
      const s = await stat(child);
      if (s.isDirectory() || name.endsWith('.json') || name.endsWith('.zip')) yield* readOsvPath(child, options);
    }
    return;
  }
  if (await isZip(path)) {
    yield* zipEntries(path, limit);
    return;
  }
  if (info.size > limit) {
    yield { name: path, bytes: new Uint8Array(0), tooLarge: { size: info.size, limit } };
    return;
  }
  yield { name: path, bytes: await readFile(path) };
}

async function isZip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return bytesRead === 4 && ZIP_MAGIC.every((b, i) => head[i] === b);
  } finally {
    await handle.close();
  }
}

/**
 * Deflate for zip entries that stops inflating once an entry has produced more than `limit` bytes:
 * the rest of a bomb's compressed bytes go by without being expanded (its header sizes may lie).
 */
function boundedInflate(limit: number) {
  return class BoundedInflate implements UnzipDecoder {
    static readonly compression = 8;
    ondata: UnzipDecoder['ondata'] = () => undefined;
    private produced = 0;
    private readonly inflate = new Inflate((data, final) => {
      this.produced += data.length;
      this.ondata(null, data, final);
    });

    push(chunk: Uint8Array, final: boolean): void {
      if (this.produced > limit) {
        if (final) this.ondata(null, new Uint8Array(0), true);
        return;
      }
      try {
        this.inflate.push(chunk, final);
      } catch (err) {
        this.ondata(err as FlateError, new Uint8Array(0), final);
      }
    }
  };
}

/** Entries are inflated as the archive streams in; one past the limit is not kept, and other files' bytes are dropped as they pass. */
async function* zipEntries(path: string, limit: number): AsyncGenerator<OsvDocument> {
  const ready: OsvDocument[] = [];
  let failure: Error | null = null;
  let open = 0;
  const unzip = new Unzip((file) => {
    // Every entry is started, even the ones skipped: one never started is held, compressed, until the end.
    if (!file.name.endsWith('.json')) {
      file.ondata = () => undefined;
      file.start();
      return;
    }
    let chunks: Uint8Array[] | null = [];
    let size = 0;
    open++;
    file.ondata = (err, data, final) => {
      if (err) {
        failure ??= new VulnDbImportError(`${path}: zip entry ${file.name}: ${err.message}`);
        return;
      }
      size += data.length;
      if (chunks && size > limit) chunks = null;
      chunks?.push(data);
      if (final) {
        open--;
        const name = `${path}:${file.name}`;
        ready.push(chunks ? { name, bytes: Buffer.concat(chunks) } : { name, bytes: new Uint8Array(0), tooLarge: { limit } });
      }
    };
    file.start();
  });
  unzip.register(boundedInflate(limit));
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK })) {
      unzip.push(chunk as Buffer);
      if (failure) throw failure;
      yield* ready.splice(0);
    }
    unzip.push(new Uint8Array(0), true);
  } catch (err) {
    if (err instanceof VulnDbImportError) throw err;
    throw new VulnDbImportError(`${path}: not a readable zip archive (${(err as Error).message})`);
  }
  if (failure) throw failure;
  yield* ready.splice(0);
  if (open > 0) throw new VulnDbImportError(`${path}: zip archive ends in the middle of an entry (truncated)`);
}
