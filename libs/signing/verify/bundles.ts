import type { Descriptor, Manifest } from '#libs/registry/index.js';
import { isRegistryError } from '#libs/registry/index.js';
import { COSIGN_SIGN_PREDICATE_TYPE, referrersFallbackTag, type DsseEnvelope } from '../formats.js';
import { pemOf } from './certificate.js';
import type { SignedItem } from './checks.js';
import { decodeEnvelope, envelopeOutcome } from './envelope.js';
import { reject, type ItemResult, type Outcome } from './report.js';
import { BASE64, mapLimit, readLayer, toItem, type Ctx } from './shared.js';
import type { VerificationPolicy } from './trust.js';

// cosign 3 writes signatures and attestations as sigstore bundles (v0.3) in OCI referrers: a DSSE
// envelope whose statement is about the image (`https://sigstore.dev/cosign/sign/v1` for a plain
// signature), with a public-key hint or a Fulcio certificate and its Rekor entry.

const BUNDLE_MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.bundle(\.v0\.[1-3])?\+json(;version=0\.[1-3])?$/;
const MAX_BUNDLE_CHAIN = 9;

export interface ReferrersInfo {
  /** Where the referrers were listed; null when the image has none. */
  listedBy: 'referrers-api' | 'fallback-tag' | null;
  /** Sigstore bundle referrers listed, and how many of them were examined. */
  found: number;
  examined: number;
  problem?: string;
}

export interface BundleResults {
  info: ReferrersInfo;
  /** Items for the signature section: sign/v1 bundles, and bundles no requirement asked for. */
  signatures: ItemResult[];
  /** Per attestation requirement, in policy order. */
  attestations: ItemResult[][];
}

export async function verifyBundles(ctx: Ctx, policy: VerificationPolicy, wantSignatures: boolean): Promise<BundleResults> {
  const listing = await listBundles(ctx);
  const examined = listing.bundles.slice(0, ctx.limits.maxLayers);
  const info: ReferrersInfo = {
    listedBy: listing.listedBy,
    found: listing.bundles.length,
    examined: examined.length,
    ...(listing.problem ? { problem: listing.problem } : {}),
  };
  const results: BundleResults = { info, signatures: [], attestations: policy.attestations.map(() => []) };
  const evaluated = await mapLimit(examined, 4, (descriptor, index) => evaluate(ctx, policy, descriptor, index, wantSignatures));
  for (const one of evaluated) {
    if (one.signature) results.signatures.push(one.signature);
    one.attestations.forEach((item, r) => item && results.attestations[r]!.push(item));
  }
  return results;
}

async function listBundles(ctx: Ctx): Promise<{ listedBy: ReferrersInfo['listedBy']; bundles: Descriptor[]; problem?: string }> {
  let listed: Descriptor[] | null;
  let listedBy: ReferrersInfo['listedBy'] = 'referrers-api';
  try {
    listed = ctx.reader.referrers ? await ctx.reader.referrers(ctx.location, ctx.image.digest, ctx.signal) : null;
    if (listed === null) {
      listedBy = 'fallback-tag';
      listed = (await ctx.reader.getManifest(ctx.location, referrersFallbackTag(ctx.image.digest), ctx.signal)).json.manifests ?? [];
    }
  } catch (err) {
    if (isRegistryError(err, 'not_found')) return { listedBy: null, bundles: [] };
    if (isRegistryError(err, 'protocol') || isRegistryError(err, 'digest_mismatch'))
      return { listedBy, bundles: [], problem: `referrers unreadable: ${err.message}` };
    throw err;
  }
  const bundles = listed.filter((d) => typeof d.artifactType === 'string' && BUNDLE_MEDIA_TYPE.test(d.artifactType));
  return { listedBy: bundles.length > 0 ? listedBy : null, bundles };
}

interface Evaluated {
  signature: ItemResult | null;
  attestations: Array<ItemResult | null>;
}

async function evaluate(
  ctx: Ctx,
  policy: VerificationPolicy,
  descriptor: Descriptor,
  index: number,
  wantSignatures: boolean,
): Promise<Evaluated> {
  const item = (outcome: Outcome, predicateType?: string) =>
    toItem(index, descriptor.digest, outcome, { source: 'referrer', ...(predicateType ? { predicateType } : {}) });
  // A bundle that cannot be read counts against everything it might have satisfied.
  const everywhere = (outcome: Outcome): Evaluated => ({
    signature: wantSignatures ? item(outcome) : null,
    attestations: policy.attestations.map(() => item(outcome)),
  });

  const bundle = await readBundle(ctx, descriptor);
  if (typeof bundle === 'string') return everywhere(reject('malformed', bundle));
  if (!bundle.dsseEnvelope)
    return everywhere(reject('malformed', 'the bundle has no DSSE envelope (message-signature bundles are not used for images)'));
  const decoded = decodeEnvelope(bundle.dsseEnvelope);
  if ('ok' in decoded) return everywhere(decoded);
  const material = verificationMaterial(bundle.verificationMaterial);
  if (typeof material === 'string') return everywhere(reject('malformed', material));

  const type = decoded.statement.predicateType;
  const attestations = policy.attestations.map((req) =>
    req.predicateType === type ? item(envelopeOutcome(ctx, decoded, material, req.keys, req.keyless), type) : null,
  );
  let signature: ItemResult | null = null;
  if (wantSignatures && type === COSIGN_SIGN_PREDICATE_TYPE)
    signature = item(envelopeOutcome(ctx, decoded, material, policy.keys, policy.keyless), type);
  else if (wantSignatures && attestations.every((a) => a === null))
    signature = item(reject('wrong-predicate', `a ${JSON.stringify(type).slice(0, 200)} attestation, not a signature`), type);
  return { signature, attestations };
}

interface Bundle {
  dsseEnvelope?: DsseEnvelope;
  verificationMaterial?: unknown;
}

async function readBundle(ctx: Ctx, descriptor: Descriptor): Promise<Bundle | string> {
  let manifest: Manifest;
  try {
    manifest = await ctx.reader.getManifest(ctx.location, descriptor.digest, ctx.signal);
  } catch (err) {
    if (isRegistryError(err) && !err.retryable && err.code !== 'unauthorized' && err.code !== 'unknown_registry')
      return `referrer ${descriptor.digest}: ${err.message}`;
    throw err;
  }
  const layer = manifest.json.layers?.[0];
  if (!layer || typeof layer.mediaType !== 'string' || !BUNDLE_MEDIA_TYPE.test(layer.mediaType))
    return 'the referrer has no sigstore bundle layer';
  const blob = await readLayer(ctx, layer, ctx.limits.maxEnvelopeBytes);
  if (typeof blob === 'string') return blob;
  try {
    const json: unknown = JSON.parse(blob.toString('utf8'));
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'the bundle is not a JSON object';
    return json as Bundle;
  } catch {
    return 'the bundle is not JSON';
  }
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});

/** The bundle's certificate, chain and first Rekor entry, in the shapes the `.sig` annotations have. */
function verificationMaterial(raw: unknown): Pick<SignedItem, 'certificate' | 'chain' | 'bundle'> | string {
  const vm = obj(raw);
  const chain = Array.isArray(obj(vm.x509CertificateChain).certificates) ? (obj(vm.x509CertificateChain).certificates as unknown[]) : [];
  if (chain.length > MAX_BUNDLE_CHAIN) return `the bundle's certificate chain has more than ${MAX_BUNDLE_CHAIN} certificates`;
  const ders = [obj(vm.certificate).rawBytes, ...chain.map((c) => obj(c).rawBytes)].filter((v) => v !== undefined);
  if (ders.some((d) => typeof d !== 'string' || !BASE64.test(d))) return "the bundle's certificate is not base64";
  const pems = (ders as string[]).map((d) => pemOf(Buffer.from(d, 'base64')));
  const out: Pick<SignedItem, 'certificate' | 'chain' | 'bundle'> = {};
  if (pems.length > 0) {
    out.certificate = pems[0]!;
    if (pems.length > 1) out.chain = pems.slice(1).join('');
  }
  const entry = obj(Array.isArray(vm.tlogEntries) ? vm.tlogEntries[0] : undefined);
  const set = obj(entry.inclusionPromise).signedEntryTimestamp;
  const keyId = obj(entry.logId).keyId;
  if (typeof set === 'string' && typeof entry.canonicalizedBody === 'string' && typeof keyId === 'string') {
    out.bundle = JSON.stringify({
      SignedEntryTimestamp: set,
      Payload: {
        body: entry.canonicalizedBody,
        // protobuf JSON writes int64 as strings.
        integratedTime: Number(entry.integratedTime),
        logIndex: Number(entry.logIndex),
        logID: Buffer.from(keyId, 'base64').toString('hex'),
      },
    });
  }
  return out;
}
