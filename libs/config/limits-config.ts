import { z } from 'zod';
import { durationMs } from '#libs/domain/index.js';

// The pipeline's top-level `limits:` section. `limits.image` bounds every read of an image's
// layers (the scan gate, the policy gate and its dry run): images are hostile input.

const UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
};

/** Parses `8GiB`, `512 MiB`, `100MB`, `4096` (bytes) into bytes. */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  const unit = m?.[2] === '' ? 'B' : m?.[2];
  if (!m || unit === undefined || !(unit in UNITS)) throw new Error(`'${text}' is not a size (use e.g. 4096, 32MiB, 8GiB)`);
  return Math.round(Number(m[1]) * UNITS[unit]!);
}

const byteSize = z.union([z.number(), z.string()]).transform((value, ctx) => {
  try {
    const bytes = typeof value === 'number' ? value : parseByteSize(value);
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error('must be a whole number of bytes above zero');
    return bytes;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const duration = durationMs.refine((ms) => ms >= 1000, 'must be at least 1s');

const count = (max: number) => z.number().int('must be a whole number').min(1, 'must be at least 1').max(max, `must be at most ${max}`);

export const imageLimitsSchema = z.strictObject({
  /** Bytes out of the decompressors, all layers of one image together. */
  maxUncompressedBytes: byteSize.default(8 * 1024 ** 3),
  /** A wanted file (package database, os-release, passwd) larger than this is not read: the gate fails closed. */
  maxFileBytes: byteSize.default(32 * 1024 ** 2),
  /** All wanted files of one image held in memory at once. */
  maxContentBytes: byteSize.default(256 * 1024 ** 2),
  /** Tar entries over all layers of one image. */
  maxEntries: count(100_000_000).default(500_000),
  /** Wall time of one image read. */
  maxWallTime: duration.default(2 * 60_000),
  /** Path components walked resolving paths and links in one image, all lookups together. */
  maxPathComponents: count(1_000_000_000).default(10_000_000),
  /** Symlinks followed in one lookup; more is a loop (the kernel stops at 40). */
  maxLinkHops: count(1000).default(40),
});

export const limitsSchema = z.strictObject({
  image: imageLimitsSchema.default(imageLimitsSchema.parse({})),
});

/** `limits.image` in the units the image reader takes. */
export interface ImageLimitsConfig {
  maxUncompressedBytes: number;
  maxFileBytes: number;
  maxContentBytes: number;
  maxEntries: number;
  maxWallTimeMs: number;
  maxPathComponents: number;
  maxLinkHops: number;
}

export interface LimitsConfig {
  image: ImageLimitsConfig;
}

export function limitsConfig(raw: z.output<typeof limitsSchema> | undefined): LimitsConfig {
  const image = (raw ?? limitsSchema.parse({})).image;
  const { maxWallTime, ...rest } = image;
  return { image: { ...rest, maxWallTimeMs: maxWallTime } };
}
