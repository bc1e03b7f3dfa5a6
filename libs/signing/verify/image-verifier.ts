import type { Descriptor, Manifest } from '#libs/registry/index.js';
import { isRegistryError } from '#libs/registry/index.js';
import {
  Annotations,
  attestationTag,
  MAX_SIGNATURE_LAYERS,
  parseSimpleSigningPayload,
  signatureTag,
  SigningMediaTypes,
} from '../formats.js';
import { verifyBundles } from './bundles.js';
import type { SignedItem } from './checks.js';
import { decodeEnvelope, envelopeOutcome } from './envelope.js';
import { sha256Hex } from './rekor.js';
import {
  reject,
  signerKey,
  type AttestationResult,
  type ItemResult,
  type ManifestResult,
  type Outcome,
  type VerificationLimits,
  type VerificationReport,
  type VerifiedSigner,
} from './report.js';
import { BASE64, check, mapLimit, readLayer, toItem, type AttachmentReader, type Ctx, type ImageToVerify } from './shared.js';
import type { AttestationRequirement, VerificationPolicy } from './trust.js';

export type { AttachmentReader, ImageToVerify } from './shared.js';

/**
 * Bounds on what one verification reads: layers beyond `maxLayers` are not examined (and say so),
 * a payload or envelope larger than its cap is rejected unread.
 */
export const DEFAULT_LIMITS: VerificationLimits = { maxLayers: 256, maxPayloadBytes: 64 * 1024, maxEnvelopeBytes: 4 * 1024 * 1024 };
const MAX_ANNOTATION_CHARS = { signature: 4096, certificate: 32 * 1024, chain: 64 * 1024, bundle: 64 * 1024 };
const CONCURRENCY = 8;

export interface VerifyOptions {
  limits?: Partial<VerificationLimits>;
  now?: Date;
  signal?: AbortSignal;
  /** false: check only the attestations (`promoctl verify --attestation`); signatures are not read. */
  signatures?: boolean;
}

/**
 * Reads an image's cosign signatures (`.sig`) and attestations (`.att`) and checks each against
 * the policy. Registry failures that are not about the attachments themselves are thrown
 * (RegistryError); anything wrong with a signature or attestation is a rejected item.
 */
export async function verifyImage(
  reader: AttachmentReader,
  image: ImageToVerify,
  policy: VerificationPolicy,
  options: VerifyOptions = {},
): Promise<VerificationReport> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const ctx: Ctx = {
    reader,
    image,
    location: { registry: image.registry, repository: image.repository },
    limits,
    now: options.now ?? new Date(),
    signal: options.signal,
  };
  const checkSignatures = options.signatures ?? true;
  const signatures = checkSignatures
    ? await verifySignatures(ctx, policy)
    : { tag: signatureTag(image.digest), manifest: null, layers: 0, examined: 0, items: [] };
  const attestations = policy.attestations.length > 0 ? await verifyAttestations(ctx, policy.attestations) : [];
  const bundles = await verifyBundles(ctx, policy, checkSignatures);
  signatures.items.push(...bundles.signatures);
  attestations.forEach((a, r) => {
    a.items.push(...bundles.attestations[r]!);
    a.satisfied = a.items.some((i) => i.accepted);
  });
  const all = [...signatures.items, ...attestations.flatMap((a) => a.items)];
  const signers = new Map<string, VerifiedSigner>();
  for (const item of all) if (item.signer) signers.set(signerKey(item.signer), item.signer);
  return {
    image: `${image.registry}/${image.repository}@${image.digest}`,
    verified: (!checkSignatures || signatures.items.some((i) => i.accepted)) && attestations.every((a) => a.satisfied),
    limits,
    signatures,
    attestations,
    referrers: bundles.info,
    signers: [...signers.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s),
  };
}

async function verifySignatures(ctx: Ctx, policy: VerificationPolicy): Promise<ManifestResult> {
  const tag = signatureTag(ctx.image.digest);
  const read = await readAttachmentManifest(ctx, tag);
  if (!read.layers) return read.result;
  const items = await mapLimit(read.layers, CONCURRENCY, (layer, index) => signatureLayer(ctx, policy, layer, index));
  return { ...read.result, items: [...items, ...notExamined(read.result, ctx.limits)] };
}

async function signatureLayer(ctx: Ctx, policy: VerificationPolicy, layer: Descriptor, index: number): Promise<ItemResult> {
  const item = (outcome: Outcome): ItemResult => toItem(index, layer.digest, outcome);
  if (layer.mediaType !== SigningMediaTypes.simpleSigning)
    return item(reject('malformed', `layer media type ${JSON.stringify(layer.mediaType)} is not a simple-signing payload`));
  const annotations = readAnnotations(layer);
  if (typeof annotations === 'string') return item(reject('malformed', annotations));
  if (layer.size > ctx.limits.maxPayloadBytes) {
    return item(reject('malformed', `payload is ${layer.size} bytes; at most ${ctx.limits.maxPayloadBytes} are read`));
  }
  const payload = await readLayer(ctx, layer, ctx.limits.maxPayloadBytes);
  if (typeof payload === 'string') return item(reject('malformed', payload));

  const signed: SignedItem = { ...annotations, signed: payload, payloadSha256: sha256Hex(payload), messageSignature: true };
  const outcome = check(signed, policy.keys, policy.keyless, ctx.now);
  if (!outcome.ok) return item(outcome);
  let digest: string;
  try {
    digest = parseSimpleSigningPayload(payload).critical.image['docker-manifest-digest'];
  } catch (err) {
    return item(reject('malformed', `signed payload: ${(err as Error).message}`));
  }
  if (digest !== ctx.image.digest) return item(reject('wrong-digest', `signed for ${digest}, not ${ctx.image.digest}`));
  return item(outcome);
}

type Annotated = Pick<SignedItem, 'signature' | 'certificate' | 'chain' | 'bundle'>;

/** The layer's signature annotations, checked for type and size; a string says what is wrong. */
function readAnnotations(layer: Descriptor, signatureRequired = true): Annotated | string {
  const raw: unknown = layer.annotations ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'annotations are not an object';
  const a = raw as Record<string, unknown>;
  const text = (name: string, max: number): string | undefined | Error => {
    const v = a[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return new Error(`annotation ${name} is not a string`);
    if (v.length > max) return new Error(`annotation ${name} is longer than ${max} characters`);
    return v;
  };
  const sig = text(Annotations.signature, MAX_ANNOTATION_CHARS.signature);
  const certificate = text(Annotations.certificate, MAX_ANNOTATION_CHARS.certificate);
  const chain = text(Annotations.chain, MAX_ANNOTATION_CHARS.chain);
  const bundle = text(Annotations.bundle, MAX_ANNOTATION_CHARS.bundle);
  for (const v of [sig, certificate, chain, bundle]) if (v instanceof Error) return v.message;
  let signature = Buffer.alloc(0);
  if (signatureRequired) {
    if (sig === undefined || sig === '') return `annotation ${Annotations.signature} is missing`;
    if (!BASE64.test(sig as string)) return `annotation ${Annotations.signature} is not base64`;
    signature = Buffer.from(sig as string, 'base64');
  }
  return {
    signature,
    ...(certificate !== undefined ? { certificate: certificate as string } : {}),
    ...(chain !== undefined ? { chain: chain as string } : {}),
    ...(bundle !== undefined ? { bundle: bundle as string } : {}),
  };
}

async function verifyAttestations(ctx: Ctx, requirements: AttestationRequirement[]): Promise<AttestationResult[]> {
  const tag = attestationTag(ctx.image.digest);
  const read = await readAttachmentManifest(ctx, tag);
  const perLayer = read.layers
    ? await mapLimit(read.layers, Math.min(CONCURRENCY, 4), (layer, index) => attestationLayer(ctx, requirements, layer, index))
    : [];
  const rest = notExamined(read.result, ctx.limits);
  return requirements.map((req, r) => {
    const items = [...perLayer.map((results) => results[r]!), ...rest];
    return { ...read.result, predicateType: req.predicateType, items, satisfied: items.some((i) => i.accepted) };
  });
}

/** One `.att` layer against every requirement (read once, dropped after): one result per requirement. */
async function attestationLayer(ctx: Ctx, requirements: AttestationRequirement[], layer: Descriptor, index: number): Promise<ItemResult[]> {
  const all = (outcome: Outcome) => requirements.map(() => toItem(index, layer.digest, outcome));
  if (layer.mediaType !== SigningMediaTypes.dsseEnvelope)
    return all(reject('malformed', `layer media type ${JSON.stringify(layer.mediaType)} is not a DSSE envelope`));
  const annotations = readAnnotations(layer, false);
  if (typeof annotations === 'string') return all(reject('malformed', annotations));
  if (layer.size > ctx.limits.maxEnvelopeBytes)
    return all(reject('malformed', `envelope is ${layer.size} bytes; at most ${ctx.limits.maxEnvelopeBytes} are read`));
  const blob = await readLayer(ctx, layer, ctx.limits.maxEnvelopeBytes);
  if (typeof blob === 'string') return all(reject('malformed', blob));
  const decoded = decodeEnvelope(blob);
  if ('ok' in decoded) return all(decoded);
  const type = decoded.statement.predicateType;
  return requirements.map((req) =>
    toItem(
      index,
      layer.digest,
      type === req.predicateType
        ? envelopeOutcome(ctx, decoded, annotations, req.keys, req.keyless)
        : reject('wrong-predicate', `predicate type ${JSON.stringify(type).slice(0, 200)}`),
      { predicateType: type },
    ),
  );
}

interface ReadManifest {
  result: ManifestResult;
  /** The layers to examine; null when there is nothing to examine. */
  layers: Descriptor[] | null;
}

async function readAttachmentManifest(ctx: Ctx, tag: string): Promise<ReadManifest> {
  const result: ManifestResult = { tag, manifest: null, layers: 0, examined: 0, items: [] };
  let manifest: Manifest;
  try {
    manifest = await ctx.reader.getManifest(ctx.location, tag, ctx.signal);
  } catch (err) {
    if (isRegistryError(err, 'not_found')) return { result, layers: null };
    // Bytes that are not a manifest are bad attachments, not a registry failure.
    if (isRegistryError(err, 'protocol') || isRegistryError(err, 'digest_mismatch')) {
      return { result: { ...result, problem: `the ${tag} manifest is malformed: ${err.message}` }, layers: null };
    }
    throw err;
  }
  result.manifest = manifest.digest;
  const layers = manifest.json.layers;
  if (!Array.isArray(layers)) return { result: { ...result, problem: `the ${tag} manifest has no layers` }, layers: null };
  result.layers = layers.length;
  if (layers.length > MAX_SIGNATURE_LAYERS) {
    return {
      result: {
        ...result,
        problem: `the ${tag} manifest has ${layers.length} layers, more than the ${MAX_SIGNATURE_LAYERS} cosign allows`,
      },
      layers: null,
    };
  }
  const examined = layers.slice(0, ctx.limits.maxLayers);
  result.examined = examined.length;
  return { result, layers: examined };
}

function notExamined(result: ManifestResult, limits: VerificationLimits): ItemResult[] {
  const left = result.layers - result.examined;
  if (result.problem !== undefined || left <= 0) return [];
  return [
    toItem(
      result.examined,
      null,
      reject(
        'not-examined',
        `${left} more layers (${result.examined}–${result.layers - 1}) were not examined: one verification examines at most ${limits.maxLayers}`,
      ),
    ),
  ];
}
