import {
  FormatError,
  pae,
  parseDsseEnvelope,
  parseInTotoStatement,
  SigningMediaTypes,
  type DsseEnvelope,
  type InTotoStatement,
} from '../formats.js';
import type { SignedItem } from './checks.js';
import { sha256Hex } from './rekor.js';
import { reject, type Outcome } from './report.js';
import { BASE64, check, type Ctx } from './shared.js';
import type { KeylessTrust, TrustedKey } from './trust.js';

/** A DSSE envelope with its in-toto statement decoded (nothing verified yet). */
export interface DecodedEnvelope {
  envelope: DsseEnvelope;
  payload: Buffer;
  statement: InTotoStatement;
}

/** A DSSE envelope holding more signatures than this is malformed. */
const MAX_ENVELOPE_SIGNATURES = 16;

export function decodeEnvelope(json: DsseEnvelope | Buffer): DecodedEnvelope | Outcome {
  try {
    const envelope = Buffer.isBuffer(json) ? parseDsseEnvelope(json) : parseDsseEnvelope(JSON.stringify(json));
    if (envelope.payloadType !== SigningMediaTypes.inTotoPayload) {
      return reject(
        'wrong-predicate',
        `payload type ${JSON.stringify(envelope.payloadType).slice(0, 100)} is not ${SigningMediaTypes.inTotoPayload}`,
      );
    }
    if (envelope.signatures.length === 0 || envelope.signatures.length > MAX_ENVELOPE_SIGNATURES) {
      return reject('malformed', `envelope has ${envelope.signatures.length} signatures (1 to ${MAX_ENVELOPE_SIGNATURES} allowed)`);
    }
    if (!BASE64.test(envelope.payload) || envelope.signatures.some((s) => !BASE64.test(s.sig)))
      throw new FormatError('payload or a signature is not base64');
    const payload = Buffer.from(envelope.payload, 'base64');
    return { envelope, payload, statement: parseInTotoStatement(payload) };
  } catch (err) {
    return reject('malformed', `envelope: ${(err as Error).message}`);
  }
}

/**
 * Accepted when one of the envelope's signatures verifies over the PAE (by a trusted key, or by a
 * certificate of a trusted identity with its Rekor proof) and a statement subject is the image.
 */
export function envelopeOutcome(
  ctx: Ctx,
  decoded: DecodedEnvelope,
  material: Pick<SignedItem, 'certificate' | 'chain' | 'bundle'>,
  keys: TrustedKey[],
  keyless: KeylessTrust | null,
): Outcome {
  const { envelope, payload, statement } = decoded;
  const signed = pae(envelope.payloadType, payload);
  const payloadSha256 = sha256Hex(payload);
  let outcome: Outcome = reject('unknown-key', 'no signature');
  for (const s of envelope.signatures) {
    outcome = check(
      { ...material, signature: Buffer.from(s.sig, 'base64'), signed, payloadSha256, messageSignature: false },
      keys,
      keyless,
      ctx.now,
    );
    if (outcome.ok) break;
  }
  if (!outcome.ok) return outcome;
  const hex = ctx.image.digest.slice('sha256:'.length);
  if (!statement.subject.some((s) => s.digest.sha256 === hex))
    return reject('wrong-digest', `no subject of the statement has the digest ${ctx.image.digest}`);
  return outcome;
}
