import { createHash } from 'node:crypto';
import { RegistryError } from './registry-error.js';

/**
 * Passes blob bytes through while hashing them. Each chunk is held back until the next one has
 * arrived, so the last chunk is released only once the whole blob is known to match: an upload
 * fed from here fails before its final byte instead of committing a wrong blob.
 */
export async function* verified(source: AsyncIterable<Uint8Array>, digest: string, size: number): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let seen = 0;
  let held: Uint8Array | null = null;
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    seen += chunk.length;
    if (seen > size) throw new RegistryError('digest_mismatch', `blob ${digest}: more than the ${size} bytes its descriptor declares`);
    hash.update(chunk);
    if (held) yield held;
    held = chunk;
  }
  const actual = 'sha256:' + hash.digest('hex');
  if (seen !== size) throw new RegistryError('digest_mismatch', `blob ${digest}: ${seen} bytes, its descriptor declares ${size}`);
  if (actual !== digest) throw new RegistryError('digest_mismatch', `blob bytes hash to ${actual}, expected ${digest}`);
  if (held) yield held;
}

/** Cuts one byte stream into consecutive pieces of exact lengths (upload chunks), without copying whole chunks. */
export class ChunkReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private rest: Uint8Array | null = null;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  async *take(length: number): AsyncGenerator<Uint8Array> {
    let left = length;
    while (left > 0) {
      let chunk = this.rest;
      this.rest = null;
      if (!chunk) {
        const next = await this.it.next();
        if (next.done) throw new RegistryError('protocol', 'blob stream ended early');
        chunk = next.value;
      }
      if (chunk.length > left) {
        this.rest = chunk.subarray(left);
        chunk = chunk.subarray(0, left);
      }
      left -= chunk.length;
      yield chunk;
    }
  }

  /** Reads to the end (runs the digest check of a `verified` source); refuses surplus bytes. */
  async finish(): Promise<void> {
    if (this.rest && this.rest.length > 0) throw new RegistryError('protocol', 'blob stream longer than declared');
    const next = await this.it.next();
    if (!next.done) throw new RegistryError('protocol', 'blob stream longer than declared');
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}
