import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { MT, pushBlob, pushManifest, sha256, type Descriptor, type RawRegistry } from './images.js';

// A test Fulcio (root, intermediate, leaf certificates with the OIDC-issuer extension and SANs),
// a test Rekor (a key that signs entry timestamps over hashedrekord entries), and pushers for
// cosign `.sig` / `.att` manifests. Certificates are DER built here and signed with node:crypto,
// so tests can set any validity window (openssl's CLI cannot back-date).

// ---- DER -----------------------------------------------------------------------------------------

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
export const tlv = (tag: number, value: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), len(value.length), value]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octet = (v: Buffer) => tlv(0x04, v);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const bits = (unused: number, v: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([unused]), v]));
function int(n: Buffer): Buffer {
  const v = n[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), n]) : n;
  return tlv(0x02, v);
}
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const arc of rest) {
    const parts: number[] = [];
    let v = arc;
    do {
      parts.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    out.push(...parts.map((p, i) => (i < parts.length - 1 ? p | 0x80 : p)));
  }
  return tlv(0x06, Buffer.from(out));
}
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'latin1')) : tlv(0x18, Buffer.from(iso, 'latin1'));
}
const name = (cn: string | null) =>
  cn === null ? seq() : seq(set(seq(oid('2.5.4.10'), utf8('sigstore.dev'))), set(seq(oid('2.5.4.3'), utf8(cn))));
const ext = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octet(value));

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
export const OIDS = {
  issuerV1: '1.3.6.1.4.1.57264.1.1',
  issuerV2: '1.3.6.1.4.1.57264.1.8',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

// ---- certificates --------------------------------------------------------------------------------

export interface TestCert {
  der: Buffer;
  pem: string;
  key: KeyObject;
  publicKey: KeyObject;
  subject: string | null;
}

export interface CertOptions {
  subject?: string | null;
  notBefore?: Date;
  notAfter?: Date;
  ca?: boolean;
  uri?: string;
  email?: string;
  /** Which Fulcio issuer extensions to write (default both). */
  oidcIssuer?: string;
  issuerExtensions?: Array<'v1' | 'v2'>;
  extendedKeyUsage?: string[];
  /** Sign with this instead of the issuer's key (a forged certificate). */
  signingKey?: KeyObject;
}

export function pemOf(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

function ecKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** A certificate issued by `issuer` (self-signed when null). */
export function issueCert(issuer: TestCert | null, options: CertOptions = {}): TestCert {
  const { privateKey, publicKey } = ecKey();
  const ca = options.ca ?? false;
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - 60_000);
  const notAfter = options.notAfter ?? new Date(now + (ca ? 365 * 86_400_000 : 10 * 60_000));
  const subject = options.subject === undefined ? (ca ? `test-ca-${randomBytes(3).toString('hex')}` : null) : options.subject;
  const extensions: Buffer[] = [
    ext('2.5.29.19', true, ca ? seq(bool(true)) : seq()),
    ext('2.5.29.15', true, ca ? bits(1, Buffer.from([0x06])) : bits(7, Buffer.from([0x80]))),
  ];
  if (!ca) {
    extensions.push(ext('2.5.29.37', false, seq(...(options.extendedKeyUsage ?? [OIDS.codeSigning]).map(oid))));
    const sans = [
      ...(options.uri ? [tlv(0x86, Buffer.from(options.uri, 'latin1'))] : []),
      ...(options.email ? [tlv(0x81, Buffer.from(options.email, 'latin1'))] : []),
    ];
    if (sans.length > 0) extensions.push(ext('2.5.29.17', true, seq(...sans)));
    if (options.oidcIssuer !== undefined) {
      const which = options.issuerExtensions ?? ['v1', 'v2'];
      if (which.includes('v1')) extensions.push(ext(OIDS.issuerV1, false, Buffer.from(options.oidcIssuer, 'utf8')));
      if (which.includes('v2')) extensions.push(ext(OIDS.issuerV2, false, utf8(options.oidcIssuer)));
    }
  }
  const tbs = seq(
    tlv(0xa0, int(Buffer.from([2]))),
    int(randomBytes(16)),
    ECDSA_SHA256,
    name(issuer ? issuer.subject : subject),
    seq(time(notBefore), time(notAfter)),
    name(subject),
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, options.signingKey ?? issuer?.key ?? privateKey);
  const der = seq(tbs, ECDSA_SHA256, bits(0, signature));
  return { der, pem: pemOf(der), key: privateKey, publicKey, subject };
}

export interface TestFulcio {
  root: TestCert;
  intermediate: TestCert;
  /** PEM of the root, as a `fulcioRoots` file holds it. */
  rootsPem: string;
  leaf(options: CertOptions): TestCert;
}

export function testFulcio(): TestFulcio {
  // Issued a day back: the chain is checked at the leaf's notBefore, which tests move into the past.
  const since = new Date(Date.now() - 86_400_000);
  const root = issueCert(null, { ca: true, subject: 'test-fulcio-root', notBefore: since });
  const intermediate = issueCert(root, { ca: true, subject: 'test-fulcio-intermediate', notBefore: since });
  return { root, intermediate, rootsPem: root.pem, leaf: (options) => issueCert(intermediate, options) };
}

// ---- Rekor ---------------------------------------------------------------------------------------

export interface TestRekor {
  key: KeyObject;
  publicKeyPem: string;
  logID: string;
  /** A cosign bundle annotation for a hashedrekord entry of this signature, payload and certificate. */
  bundle(entry: { payload: Buffer; signature: Buffer; certificatePem: string; integratedTime?: Date; logIndex?: number }): string;
  /** A bundle for a DSSE entry (attestations). */
  dsseBundle(entry: { payload: Buffer; certificatePem: string; integratedTime?: Date }): string;
}

export function testRekor(): TestRekor {
  const { privateKey, publicKey } = ecKey();
  const logID = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
  const signed = (body: object, integratedTime: Date, logIndex: number) => {
    const payload = {
      body: Buffer.from(JSON.stringify(body)).toString('base64'),
      integratedTime: Math.floor(integratedTime.getTime() / 1000),
      logIndex,
      logID,
    };
    // RFC 8785 canonical form of these four keys: sorted, no spaces.
    const canonical = JSON.stringify({
      body: payload.body,
      integratedTime: payload.integratedTime,
      logID: payload.logID,
      logIndex: payload.logIndex,
    });
    const set = sign('sha256', Buffer.from(canonical), privateKey).toString('base64');
    return JSON.stringify({ SignedEntryTimestamp: set, Payload: payload });
  };
  return {
    key: privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    logID,
    bundle({ payload, signature, certificatePem, integratedTime = new Date(), logIndex = 42 }) {
      const body = {
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') } },
          signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(certificatePem).toString('base64') } },
        },
      };
      return signed(body, integratedTime, logIndex);
    },
    dsseBundle({ payload, certificatePem, integratedTime = new Date() }) {
      const body = {
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: {
          payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') },
          signatures: [{ signature: 'x', verifier: Buffer.from(certificatePem).toString('base64') }],
        },
      };
      return signed(body, integratedTime, 7);
    },
  };
}

// ---- cosign manifests ----------------------------------------------------------------------------

export interface CosignLayer {
  blob: Buffer;
  annotations: Record<string, string>;
  mediaType?: string;
}

/**
 * Pushes a `.sig` or `.att` manifest with exactly these layers (identical blobs are pushed once),
 * in cosign's shape: config with one diff_id per layer.
 */
export async function pushCosignManifest(
  reg: RawRegistry,
  repo: string,
  imageDigest: string,
  kind: 'sig' | 'att',
  layers: CosignLayer[],
): Promise<{ tag: string; digest: string }> {
  const pushed = new Set<string>();
  const descriptors: Descriptor[] = [];
  for (const layer of layers) {
    const digest = sha256(layer.blob);
    if (!pushed.has(digest)) {
      await pushBlob(reg, repo, layer.blob);
      pushed.add(digest);
    }
    descriptors.push({
      mediaType:
        layer.mediaType ?? (kind === 'sig' ? 'application/vnd.dev.cosign.simplesigning.v1+json' : 'application/vnd.dsse.envelope.v1+json'),
      size: layer.blob.length,
      digest,
      annotations: layer.annotations,
    });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: descriptors.map((d) => d.digest) },
      config: {},
    }),
  );
  await pushBlob(reg, repo, config);
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, size: config.length, digest: sha256(config) },
      layers: descriptors,
    }),
  );
  const tag = `sha256-${imageDigest.slice(7)}.${kind}`;
  return { tag, digest: await pushManifest(reg, repo, tag, bytes, MT.ociManifest) };
}

export function ecKeyPair(): { privateKey: KeyObject; publicKey: KeyObject; publicKeyPem: string } {
  const { privateKey, publicKey } = ecKey();
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

// ---- sigstore bundle referrers (cosign 3) ----------------------------------------------------------

const BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** A DSSE envelope over an in-toto statement, signed over the PAE with `key`. */
export function dsseEnvelope(
  statement: object,
  key: KeyObject,
): { payloadType: string; payload: string; signatures: Array<{ keyid: string; sig: string }> } {
  const payload = Buffer.from(JSON.stringify(statement));
  const type = 'application/vnd.in-toto+json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${payload.length} `), payload]);
  return {
    payloadType: type,
    payload: payload.toString('base64'),
    signatures: [{ keyid: '', sig: sign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', pae, key).toString('base64') }],
  };
}

/** A sigstore bundle v0.3 for a key (public-key hint, no log entry) or a Fulcio certificate with its Rekor entry. */
export function sigstoreBundle(envelope: object, material: { hint: string } | { certificate: TestCert; rekorBundle: string }): object {
  if ('hint' in material)
    return { mediaType: BUNDLE_V03, verificationMaterial: { publicKey: { hint: material.hint }, tlogEntries: [] }, dsseEnvelope: envelope };
  const { SignedEntryTimestamp, Payload } = JSON.parse(material.rekorBundle) as {
    SignedEntryTimestamp: string;
    Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
  };
  return {
    mediaType: BUNDLE_V03,
    verificationMaterial: {
      certificate: { rawBytes: material.certificate.der.toString('base64') },
      tlogEntries: [
        {
          logIndex: String(Payload.logIndex),
          logId: { keyId: Buffer.from(Payload.logID, 'hex').toString('base64') },
          kindVersion: { kind: 'dsse', version: '0.0.1' },
          integratedTime: String(Payload.integratedTime),
          inclusionPromise: { signedEntryTimestamp: SignedEntryTimestamp },
          canonicalizedBody: Payload.body,
        },
      ],
    },
    dsseEnvelope: envelope,
  };
}

/**
 * Pushes each bundle as an OCI referrer of `subject` (cosign 3's layout) and lists them all in the
 * referrers fallback tag `sha256-<hex>` (docker-registry 2.8 has no referrers API).
 */
export async function pushBundleReferrers(
  reg: RawRegistry,
  repo: string,
  subject: Descriptor,
  bundles: Array<{ bundle: object; predicateType: string }>,
): Promise<Descriptor[]> {
  const empty = Buffer.from('{}');
  await pushBlob(reg, repo, empty);
  const referrers: Descriptor[] = [];
  for (const { bundle, predicateType } of bundles) {
    const blob = Buffer.from(JSON.stringify(bundle));
    await pushBlob(reg, repo, blob);
    const annotations = { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': predicateType };
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        artifactType: BUNDLE_V03,
        config: { mediaType: MT.ociEmpty, digest: sha256(empty), size: 2 },
        layers: [{ mediaType: BUNDLE_V03, digest: sha256(blob), size: blob.length }],
        subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        annotations,
      }),
    );
    const digest = await pushManifest(reg, repo, sha256(bytes), bytes, MT.ociManifest);
    referrers.push({ mediaType: MT.ociManifest, digest, size: bytes.length, artifactType: BUNDLE_V03, annotations });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: referrers }));
  await pushManifest(reg, repo, `sha256-${subject.digest.slice(7)}`, index, MT.ociIndex);
  return referrers;
}
