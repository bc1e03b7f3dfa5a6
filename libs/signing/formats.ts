// The cosign / sigstore / in-toto wire formats, byte for byte where cosign and containers/image are
// strict (see FORMATS.md). Both the signer and the verifier build and parse through this file only.

export const SigningMediaTypes = {
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  dsseEnvelope: 'application/vnd.dsse.envelope.v1+json',
  sigstoreBundleV03: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  inTotoPayload: 'application/vnd.in-toto+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export const Annotations = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161Timestamp: 'dev.sigstore.cosign/rfc3161timestamp',
  /** On `.att` layers: the statement's predicate type. */
  predicateType: 'predicateType',
  /** On sigstore bundle referrers: `message-signature` or `dsse-envelope`. */
  bundleContent: 'dev.sigstore.bundle.content',
  bundlePredicateType: 'dev.sigstore.bundle.predicateType',
  created: 'org.opencontainers.image.created',
} as const;

export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** Still written by `cosign attest`; verifiers accept both. */
export const IN_TOTO_STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';
export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
export const SLSA_PROVENANCE_PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';
export const CYCLONEDX_PREDICATE_TYPE = 'https://cyclonedx.org/bom';
/** The promotion record: our own predicate (source, environments, gates, approvals, reviews). */
export const PROMOTION_PREDICATE_TYPE = 'https://image-promoter.dev/promotion/v1';
/** cosign puts this predicate type on the bundle referrer of a plain signature. */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';

/** The OCI empty descriptor's blob `{}`: config of a bundle referrer. */
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
/** cosign refuses `.sig`/`.att` manifests with more layers than this. */
export const MAX_SIGNATURE_LAYERS = 1000;

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function isSha256Digest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

function hexOf(digest: string): string {
  if (!isSha256Digest(digest)) throw new FormatError(`not a sha256 digest: ${JSON.stringify(digest).slice(0, 80)}`);
  return digest.slice('sha256:'.length);
}

/** cosign's signature tag for an image digest, in the image's own repository. */
export function signatureTag(digest: string): string {
  return `sha256-${hexOf(digest)}.sig`;
}

export function attestationTag(digest: string): string {
  return `sha256-${hexOf(digest)}.att`;
}

/** The OCI 1.1 referrers fallback tag (registries without the referrers API). */
export function referrersFallbackTag(digest: string): string {
  return `sha256-${hexOf(digest)}`;
}

export class FormatError extends Error {
  override readonly name = 'FormatError';
}

// ---- simple signing ------------------------------------------------------------------------------

export interface SimpleSigningPayload {
  critical: {
    identity: { 'docker-reference': string };
    image: { 'docker-manifest-digest': string };
    type: typeof SIMPLE_SIGNING_TYPE;
  };
  optional: Record<string, unknown> | null;
}

/**
 * The exact bytes cosign signs. Key order is cosign's struct order (critical.identity, .image,
 * .type, optional); `optional` is `null` without annotations, as cosign writes it.
 */
export function simpleSigningPayload(dockerReference: string, digest: string, optional: Record<string, unknown> | null = null): Buffer {
  hexOf(digest);
  if (!dockerReference || /[@\s]/.test(dockerReference)) throw new FormatError(`not a repository name: ${JSON.stringify(dockerReference)}`);
  const payload: SimpleSigningPayload = {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': digest },
      type: SIMPLE_SIGNING_TYPE,
    },
    optional,
  };
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function exactKeys(where: string, value: unknown, keys: string[]): Record<string, unknown> {
  if (!isObject(value)) throw new FormatError(`${where} is not an object`);
  const have = Object.keys(value).sort();
  const want = [...keys].sort();
  if (have.length !== want.length || have.some((k, i) => k !== want[i])) {
    throw new FormatError(`${where} must have exactly the keys ${want.join(', ')} (has ${have.join(', ') || 'none'})`);
  }
  return value;
}

/**
 * Parses a simple-signing payload as strictly as containers/image does: exactly `critical` and
 * `optional`; `critical` exactly `identity`, `image`, `type`; the type is cosign's; the digest a sha256.
 */
export function parseSimpleSigningPayload(bytes: Uint8Array | string): SimpleSigningPayload {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new FormatError('simple-signing payload is not JSON');
  }
  // cosign itself tolerates a missing `optional`; containers/image requires both keys.
  const top = exactKeys('payload', json, isObject(json) && 'optional' in json ? ['critical', 'optional'] : ['critical']);
  const critical = exactKeys('payload.critical', top.critical, ['identity', 'image', 'type']);
  if (critical.type !== SIMPLE_SIGNING_TYPE) throw new FormatError(`payload.critical.type is not "${SIMPLE_SIGNING_TYPE}"`);
  const identity = exactKeys('payload.critical.identity', critical.identity, ['docker-reference']);
  if (typeof identity['docker-reference'] !== 'string') throw new FormatError('payload.critical.identity.docker-reference is not a string');
  const image = exactKeys('payload.critical.image', critical.image, ['docker-manifest-digest']);
  if (!isSha256Digest(image['docker-manifest-digest']))
    throw new FormatError('payload.critical.image.docker-manifest-digest is not a sha256 digest');
  const optional = top.optional ?? null;
  if (optional !== null && !isObject(optional)) throw new FormatError('payload.optional is neither null nor an object');
  return {
    critical: {
      identity: { 'docker-reference': identity['docker-reference'] },
      image: { 'docker-manifest-digest': image['docker-manifest-digest'] },
      type: SIMPLE_SIGNING_TYPE,
    },
    optional,
  };
}

// ---- DSSE and in-toto ----------------------------------------------------------------------------

export interface DsseSignature {
  keyid: string;
  /** Standard base64 of the DER signature over the PAE bytes. */
  sig: string;
}

export interface DsseEnvelope {
  payloadType: string;
  /** Standard base64 of the payload bytes. */
  payload: string;
  signatures: DsseSignature[];
}

/** DSSE pre-authentication encoding: `DSSEv1 SP len(type) SP type SP len(body) SP body`, lengths in bytes. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    Buffer.from(payload),
  ]);
}

export function parseDsseEnvelope(bytes: Uint8Array | string): DsseEnvelope {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new FormatError('DSSE envelope is not JSON');
  }
  if (!isObject(json)) throw new FormatError('DSSE envelope is not an object');
  if (typeof json.payloadType !== 'string') throw new FormatError('DSSE envelope has no payloadType');
  if (typeof json.payload !== 'string') throw new FormatError('DSSE envelope has no payload');
  if (!Array.isArray(json.signatures)) throw new FormatError('DSSE envelope has no signatures');
  const signatures = json.signatures.map((s, i) => {
    if (!isObject(s) || typeof s.sig !== 'string') throw new FormatError(`DSSE envelope signatures[${i}] has no sig`);
    return { keyid: typeof s.keyid === 'string' ? s.keyid : '', sig: s.sig };
  });
  return { payloadType: json.payloadType, payload: json.payload, signatures };
}

export interface InTotoSubject {
  name: string;
  digest: Record<string, string>;
}

export interface InTotoStatement<P = unknown> {
  _type: typeof IN_TOTO_STATEMENT_V1 | typeof IN_TOTO_STATEMENT_V01;
  subject: InTotoSubject[];
  predicateType: string;
  predicate: P;
}

/** A v1 statement about one image: subject name is the repository, digest its sha256. */
export function inTotoStatement<P>(repositoryName: string, digest: string, predicateType: string, predicate: P): InTotoStatement<P> {
  return { _type: IN_TOTO_STATEMENT_V1, subject: [{ name: repositoryName, digest: { sha256: hexOf(digest) } }], predicateType, predicate };
}

export function parseInTotoStatement(bytes: Uint8Array | string): InTotoStatement {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new FormatError('in-toto statement is not JSON');
  }
  if (!isObject(json)) throw new FormatError('in-toto statement is not an object');
  if (json._type !== IN_TOTO_STATEMENT_V1 && json._type !== IN_TOTO_STATEMENT_V01)
    throw new FormatError('in-toto statement has an unknown _type');
  if (typeof json.predicateType !== 'string') throw new FormatError('in-toto statement has no predicateType');
  if (!Array.isArray(json.subject) || json.subject.length === 0) throw new FormatError('in-toto statement has no subject');
  const subject = json.subject.map((s, i) => {
    if (!isObject(s) || !isObject(s.digest)) throw new FormatError(`in-toto statement subject[${i}] has no digest`);
    const digest: Record<string, string> = {};
    for (const [alg, value] of Object.entries(s.digest)) if (typeof value === 'string') digest[alg] = value;
    return { name: typeof s.name === 'string' ? s.name : '', digest };
  });
  return { _type: json._type, subject, predicateType: json.predicateType, predicate: json.predicate };
}

// ---- cosign manifests ----------------------------------------------------------------------------

/**
 * The config blob cosign writes for `.sig`/`.att` manifests: one diff_id per layer, and one empty
 * history entry per layer as go-containerregistry's mutate.Append adds them.
 */
export function cosignConfigBlob(layerDigests: string[]): Buffer {
  const config = {
    architecture: '',
    created: '0001-01-01T00:00:00Z',
    history: layerDigests.map(() => ({ created: '0001-01-01T00:00:00Z' })),
    os: '',
    rootfs: { type: 'layers', diff_ids: layerDigests },
    config: {},
  };
  return Buffer.from(JSON.stringify(config), 'utf8');
}

// ---- sigstore bundle v0.3 -------------------------------------------------------------------------

/** The subset of a sigstore bundle v0.3 we write and read: a DSSE envelope under a public key. */
export interface SigstoreBundleV03 {
  mediaType: typeof SigningMediaTypes.sigstoreBundleV03;
  verificationMaterial: {
    publicKey?: { hint: string };
    certificate?: { rawBytes: string };
    tlogEntries: unknown[];
    timestampVerificationData?: { rfc3161Timestamps: unknown[] };
  };
  dsseEnvelope?: DsseEnvelope;
  messageSignature?: { messageDigest: { algorithm: string; digest: string }; signature: string };
}
