import type { Descriptor, Manifest, RepositoryLocation } from '#libs/registry/index.js';
import { isRegistryError } from '#libs/registry/index.js';
import { verifyKeyless, verifyWithKeys, type SignedItem } from './checks.js';
import { reject, type ItemResult, type Outcome, type VerificationLimits } from './report.js';
import type { KeylessTrust, TrustedKey } from './trust.js';

/** The registry calls verification needs (RegistryClient has them). */
export interface AttachmentReader {
  getManifest(location: RepositoryLocation, reference: string, signal?: AbortSignal): Promise<Manifest>;
  readBlob(location: RepositoryLocation, blob: Pick<Descriptor, 'digest' | 'size'>, limit?: number, signal?: AbortSignal): Promise<Buffer>;
  /** OCI 1.1 referrers; null when the registry has no referrers API. */
  referrers?(location: RepositoryLocation, digest: string, signal?: AbortSignal): Promise<Descriptor[] | null>;
}

export interface ImageToVerify extends RepositoryLocation {
  digest: string;
}

export interface Ctx {
  reader: AttachmentReader;
  image: ImageToVerify;
  location: RepositoryLocation;
  limits: VerificationLimits;
  now: Date;
  signal?: AbortSignal;
}

export const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Keyless when the item carries a certificate and identities are trusted; else the trusted keys. */
export function check(item: SignedItem, keys: TrustedKey[], keyless: KeylessTrust | null, now: Date): Outcome {
  if (item.certificate !== undefined && keyless) return verifyKeyless(item, keyless, now);
  if (keys.length === 0 && item.certificate !== undefined)
    return reject('unknown-key', 'keyless signature, but no keyless identity is trusted here');
  if (keys.length === 0) return reject('unknown-key', 'signed with a key, but only keyless identities are trusted here');
  return verifyWithKeys(item, keys);
}

/** A blob, or a string saying why it could not be used; transient or access failures throw. */
export async function readLayer(ctx: Ctx, layer: Descriptor, limit: number): Promise<Buffer | string> {
  if (layer.size > limit) return `${layer.digest} is ${layer.size} bytes; at most ${limit} are read`;
  // A body cut short looks like wrong bytes (digest_mismatch): read once more before calling the layer malformed.
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.reader.readBlob(ctx.location, layer, limit, ctx.signal);
    } catch (err) {
      if (!isRegistryError(err) || err.retryable || err.code === 'unauthorized' || err.code === 'unknown_registry') throw err;
      if (attempt < 2 && (err.code === 'digest_mismatch' || err.code === 'protocol')) continue;
      return `blob ${layer.digest}: ${err.message}`;
    }
  }
}

export function toItem(
  index: number,
  digest: string | null,
  outcome: Outcome,
  extra: Pick<ItemResult, 'predicateType' | 'source'> = {},
): ItemResult {
  const base = { index, digest, ...extra };
  return outcome.ok
    ? { ...base, accepted: true, signer: outcome.signer, detail: 'verified' }
    : { ...base, accepted: false, reason: outcome.reason, detail: outcome.detail };
}

export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
