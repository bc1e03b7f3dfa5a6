import { setImmediate as nextTurn } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { ImageFsError } from './errors.js';

export type LayerCompression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** What the media type promises; null for types that are not filesystem layers. */
export function declaredCompression(mediaType: string): LayerCompression | 'unknown' | null {
  if (!/tar/.test(mediaType)) return null;
  if (/gzip$/.test(mediaType)) return 'gzip';
  if (/zstd$/.test(mediaType)) return 'zstd';
  if (/\.tar$/.test(mediaType)) return 'none';
  return 'unknown';
}

/** What the first bytes say. */
export function sniffCompression(head: Uint8Array): LayerCompression {
  const starts = (magic: number[]): boolean => head.length >= magic.length && magic.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/**
 * The largest zstd window accepted: zstd's own decoder refuses more than 2^27 unless told
 * otherwise. fzstd allocates the window a frame declares (up to 2 GiB) and moves all of it for
 * every block, so an unbounded window is both a memory and a CPU bomb.
 */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;
/** zstd's Block_Maximum_Size. */
const MAX_BLOCK = 128 * 1024;
/**
 * Input is fed to fzstd this many bytes at a time: a push decodes every block it completes at
 * once, synchronously, and a block of 4 bytes can stand for 128 KiB; so one push makes at most
 * about 8 MiB, and the stream can stop (backpressure, a limit) between pushes.
 */
const SLICE = 256;
/** Output between turns of the event loop. */
const YIELD_BYTES = 1024 * 1024;

/**
 * Follows the zstd frame and block structure ahead of fzstd so that a frame declaring a window
 * over MAX_ZSTD_WINDOW, or a block claiming more than 128 KiB, is refused before fzstd acts on it.
 */
class ZstdFrameGuard {
  private state: 'magic' | 'header' | 'block' | 'skip' = 'magic';
  private buf: number[] = [];
  private need = 4;
  private skip = 0;
  private then: () => void = () => undefined;
  private checksum = 0;

  constructor(private readonly maxWindow: number) {}

  check(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'skip') {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        if (this.skip === 0) this.then();
        continue;
      }
      this.buf.push(chunk[i++]!);
      if (this.buf.length >= this.need) this.parse();
    }
  }

  private expect(state: 'magic' | 'header' | 'block', need: number): void {
    this.state = state;
    this.need = need;
    this.buf = [];
  }

  /** Skips `bytes` of payload, then carries on with `then`. */
  private payload(bytes: number, then: () => void): void {
    this.buf = [];
    if (bytes === 0) return then();
    this.state = 'skip';
    this.skip = bytes;
    this.then = then;
  }

  private parse(): void {
    const b = this.buf;
    if (this.state === 'magic') {
      const magic = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
      if (magic === 0xfd2fb528) return this.expect('header', 1);
      if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) {
        // A skippable frame: 4 bytes of length, then that much to ignore.
        if (b.length < 8) {
          this.need = 8;
          return;
        }
        return this.payload((b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0, () => this.expect('magic', 4));
      }
      // Not a frame: fzstd reports the corruption in its own words.
      return this.payload(Infinity, () => undefined);
    }
    if (this.state === 'header') {
      const fhd = b[0]!;
      const singleSegment = (fhd >> 5) & 1;
      const dictBytes = [0, 1, 2, 4][fhd & 3]!;
      const fcsFlag = fhd >> 6;
      const fcsBytes = fcsFlag === 0 ? singleSegment : 1 << fcsFlag;
      const total = 1 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
      if (b.length < total) {
        this.need = total;
        return;
      }
      let window: number;
      if (singleSegment) {
        let fcs = 0;
        for (let k = 0; k < fcsBytes; k++) fcs += b[1 + dictBytes + k]! * 2 ** (8 * k);
        window = fcs + (fcsBytes === 2 ? 256 : 0);
      } else {
        const wd = b[1]!;
        const base = 2 ** (10 + (wd >> 3));
        window = base + (base / 8) * (wd & 7);
      }
      if (window > this.maxWindow) {
        throw new ImageFsError(
          'limit_exceeded',
          `a zstd frame declares a ${window}-byte window, more than the ${this.maxWindow} bytes accepted`,
        );
      }
      this.checksum = (fhd >> 2) & 1 ? 4 : 0;
      return this.expect('block', 3);
    }
    // A block header: last-block flag, type (raw, RLE, compressed), size.
    const header = b[0]! | (b[1]! << 8) | (b[2]! << 16);
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    if (size > MAX_BLOCK)
      throw new ImageFsError('corrupt_layer', `a zstd block claims ${size} bytes, more than the 128 KiB a block may hold`);
    const last = (header & 1) === 1;
    const next = () => (last ? this.payload(this.checksum, () => this.expect('magic', 4)) : this.expect('block', 3));
    this.payload(type === 1 ? 1 : size, next);
  }
}

function zstdError(err: unknown): Error {
  if (err instanceof ImageFsError) return err;
  const code = (err as { code?: number }).code;
  const reason = code === 5 ? 'zstd stream ends early (truncated)' : `corrupt zstd data: ${(err as Error).message}`;
  return new Error(reason, { cause: err });
}

/**
 * Streaming zstd that never runs long without giving the event loop a turn: input goes to fzstd a
 * slice at a time and output is handed on block by block, so the consumer's backpressure and
 * limits apply between slices.
 */
export async function* zstdDecompress(source: AsyncIterable<Uint8Array>, maxWindow = MAX_ZSTD_WINDOW): AsyncGenerator<Buffer> {
  const out: Uint8Array[] = [];
  const decoder = new Decompress((chunk) => {
    if (chunk.length > 0) out.push(chunk);
  });
  const guard = new ZstdFrameGuard(maxWindow);
  let sawInput = false;
  let sinceYield = 0;
  try {
    for await (const chunk of source) {
      sawInput ||= chunk.length > 0;
      for (let at = 0; at < chunk.length; at += SLICE) {
        const slice = chunk.subarray(at, at + SLICE);
        guard.check(slice);
        decoder.push(slice, false);
        while (out.length > 0) {
          const block = out.shift()!;
          sinceYield += block.length;
          yield Buffer.from(block.buffer, block.byteOffset, block.length);
        }
        if (sinceYield >= YIELD_BYTES) {
          sinceYield = 0;
          await nextTurn();
        }
      }
    }
    if (sawInput) decoder.push(new Uint8Array(0), true);
  } catch (err) {
    throw zstdError(err);
  }
  for (const block of out) yield Buffer.from(block.buffer, block.byteOffset, block.length);
}

/** gunzip runs on libuv's thread pool, a chunk at a time as the consumer reads. */
export function gunzip() {
  return createGunzip();
}
