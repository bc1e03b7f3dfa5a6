import { createHash, verify as cryptoVerify } from 'node:crypto';
import { hashFor, type PublicKeyInfo } from '../keys.js';

/** cosign's `dev.sigstore.cosign/bundle` annotation: a Rekor entry and its signed entry timestamp. */
export interface RekorBundle {
  SignedEntryTimestamp: string;
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
}

export type SetCheck = { ok: true; integratedTime: Date; logIndex: number } | { ok: false; problem: string };

/** What the Rekor entry must be about: this signature (or DSSE envelope), this payload, this signer. */
export interface RekorExpectation {
  /** sha256 hex of the signed payload (the simple-signing bytes, or the DSSE payload). */
  payloadSha256: string;
  /** The raw signature bytes on the layer (for a message signature). */
  signature: Buffer | null;
  /** The signing certificate's DER. */
  certificate: Buffer;
}

const MAX_BODY_BYTES = 64 * 1024;

export function parseRekorBundle(text: string): RekorBundle {
  const json = JSON.parse(text) as Partial<RekorBundle>;
  const p = json?.Payload;
  if (
    typeof json?.SignedEntryTimestamp !== 'string' ||
    typeof p !== 'object' ||
    p === null ||
    typeof p.body !== 'string' ||
    !Number.isSafeInteger(p.integratedTime) ||
    !Number.isSafeInteger(p.logIndex) ||
    typeof p.logID !== 'string'
  ) {
    throw new Error('bundle lacks SignedEntryTimestamp or Payload{body, integratedTime, logIndex, logID}');
  }
  return json as RekorBundle;
}

/**
 * The bytes Rekor signs as the entry timestamp: cosign marshals {body, integratedTime, logIndex,
 * logID} and canonicalises it (RFC 8785), which sorts the keys.
 */
export function setSignedBytes(payload: RekorBundle['Payload']): Buffer {
  const { body, integratedTime, logID, logIndex } = payload;
  return Buffer.from(JSON.stringify({ body, integratedTime, logID, logIndex }), 'utf8');
}

/**
 * Verifies the signed entry timestamp with a trusted Rekor key (chosen by log ID, as cosign does),
 * then that the entry is about this very signature: a SET over some other entry proves nothing.
 */
export function verifyRekorBundle(bundle: RekorBundle, rekorKeys: PublicKeyInfo[], expected: RekorExpectation): SetCheck {
  const key = rekorKeys.find((k) => k.keyId === `sha256:${bundle.Payload.logID.toLowerCase()}`);
  if (!key) return { ok: false, problem: `the bundle's log ID ${bundle.Payload.logID.slice(0, 16)}… is not a trusted Rekor key` };
  const set = Buffer.from(bundle.SignedEntryTimestamp, 'base64');
  let valid: boolean;
  try {
    valid = cryptoVerify(hashFor(key.key), setSignedBytes(bundle.Payload), key.key, set);
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, problem: 'the signed entry timestamp does not verify with the Rekor key' };
  const mismatch = entryMismatch(bundle.Payload.body, expected);
  if (mismatch) return { ok: false, problem: `the Rekor entry is not about this signature: ${mismatch}` };
  return { ok: true, integratedTime: new Date(bundle.Payload.integratedTime * 1000), logIndex: bundle.Payload.logIndex };
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});

function entryMismatch(bodyB64: string, expected: RekorExpectation): string | null {
  const raw = Buffer.from(bodyB64, 'base64');
  if (raw.length > MAX_BODY_BYTES) return 'entry body too large';
  let body: Json;
  try {
    body = obj(JSON.parse(raw.toString('utf8')));
  } catch {
    return 'entry body is not JSON';
  }
  const spec = obj(body.spec);
  switch (body.kind) {
    case 'hashedrekord':
    case 'rekord': {
      const hash = obj(obj(spec.data).hash);
      if (hash.algorithm !== 'sha256' || hash.value !== expected.payloadSha256) return 'payload hash differs';
      const signature = obj(spec.signature);
      if (!expected.signature || !Buffer.from(String(signature.content ?? ''), 'base64').equals(expected.signature))
        return 'signature differs';
      if (!sameCertificate(obj(signature.publicKey).content, expected.certificate)) return 'certificate differs';
      return null;
    }
    case 'dsse': {
      if (obj(spec.payloadHash).value !== expected.payloadSha256) return 'payload hash differs';
      const verifiers = Array.isArray(spec.signatures) ? spec.signatures.map((s) => obj(s).verifier) : [];
      return verifiers.some((v) => sameCertificate(v, expected.certificate)) ? null : 'certificate differs';
    }
    case 'intoto': {
      const content = obj(spec.content);
      if (obj(content.payloadHash).value !== expected.payloadSha256) return 'payload hash differs';
      const sigs = Array.isArray(obj(content.envelope).signatures) ? (obj(content.envelope).signatures as unknown[]) : [];
      return sigs.some((s) => sameCertificate(obj(s).publicKey, expected.certificate)) ? null : 'certificate differs';
    }
    default:
      return `unsupported entry kind ${JSON.stringify(body.kind)}`;
  }
}

/** Rekor stores the signer as base64 of a PEM certificate; compare the DER inside. */
function sameCertificate(b64Pem: unknown, der: Buffer): boolean {
  if (typeof b64Pem !== 'string') return false;
  const pem = Buffer.from(b64Pem, 'base64').toString('utf8');
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/.exec(pem);
  return m !== null && Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64').equals(der);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
