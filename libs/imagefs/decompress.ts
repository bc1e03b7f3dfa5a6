import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';

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

/** Streaming zstd: fzstd keeps only its window, and reports a stream that ends mid-frame. */
class ZstdTransform extends Transform {
  private readonly decoder = new Decompress((chunk) => {
    if (chunk.length > 0) this.push(Buffer.from(chunk));
  });
  private sawInput = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.sawInput ||= chunk.length > 0;
      this.decoder.push(chunk, false);
      callback();
    } catch (err) {
      callback(zstdError(err));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.sawInput) this.decoder.push(new Uint8Array(0), true);
      callback();
    } catch (err) {
      callback(zstdError(err));
    }
  }
}

function zstdError(err: unknown): Error {
  const code = (err as { code?: number }).code;
  const reason = code === 5 ? 'zstd stream ends early (truncated)' : `corrupt zstd data: ${(err as Error).message}`;
  return new Error(reason, { cause: err });
}

export function decompressor(kind: LayerCompression): Transform | null {
  if (kind === 'gzip') return createGunzip();
  if (kind === 'zstd') return new ZstdTransform();
  return null;
}
