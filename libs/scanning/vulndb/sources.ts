import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Unzip, UnzipInflate } from 'fflate';
import { VulnDbImportError } from './errors.js';

/** One JSON document of an import: a file, or an entry of a zip archive (`all.zip:CVE-….json`). */
export interface OsvDocument {
  name: string;
  bytes: Uint8Array;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/**
 * The OSV documents under PATH: a JSON file, a zip archive (OSV's per-ecosystem `all.zip`), or a
 * directory of either, walked in name order. Zip archives are read as a stream, entry by entry,
 * so memory holds one record at a time whatever the archive's size.
 */
export async function* readOsvPath(path: string): AsyncGenerator<OsvDocument> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new VulnDbImportError(`cannot read ${path}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
  });
  if (info.isDirectory()) {
    const names = (await readdir(path)).sort();
    for (const name of names) {
      const child = join(path, name);
      const s = await stat(child);
      if (s.isDirectory() || name.endsWith('.json') || name.endsWith('.zip')) yield* readOsvPath(child);
    }
    return;
  }
  if (await isZip(path)) {
    yield* zipEntries(path);
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

async function* zipEntries(path: string): AsyncGenerator<OsvDocument> {
  const ready: OsvDocument[] = [];
  let failure: Error | null = null;
  let open = 0;
  const unzip = new Unzip((file) => {
    if (!file.name.endsWith('.json')) return;
    const chunks: Uint8Array[] = [];
    open++;
    file.ondata = (err, data, final) => {
      if (err) {
        failure ??= new VulnDbImportError(`${path}: zip entry ${file.name}: ${err.message}`);
        return;
      }
      chunks.push(data);
      if (final) {
        open--;
        ready.push({ name: `${path}:${file.name}`, bytes: Buffer.concat(chunks) });
      }
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  try {
    for await (const chunk of createReadStream(path)) {
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
