import { pae, SigningMediaTypes, type DsseEnvelope, type InTotoStatement, type SigstoreBundleV03 } from './formats.js';
import type { Signer } from './signer.js';

/** Serialises a statement once: these bytes are what is signed and what readers decode. */
export function statementBytes(statement: InTotoStatement): Buffer {
  return Buffer.from(JSON.stringify(statement), 'utf8');
}

/**
 * A DSSE envelope over the payload signed with the signer's key. keyid stays empty as cosign
 * writes it: verifiers find the key by trying theirs, not by trusting a hint in the envelope.
 */
export async function signEnvelope(
  signer: Signer,
  payload: Buffer,
  payloadType: string = SigningMediaTypes.inTotoPayload,
): Promise<DsseEnvelope> {
  const sig = await signer.sign(pae(payloadType, payload));
  return { payloadType, payload: payload.toString('base64'), signatures: [{ keyid: '', sig: sig.toString('base64') }] };
}

/** A sigstore bundle v0.3 holding the envelope, for a public key identified by its hint (no tlog). */
export function keyBundle(envelope: DsseEnvelope, keyHint: string): SigstoreBundleV03 {
  return {
    mediaType: SigningMediaTypes.sigstoreBundleV03,
    verificationMaterial: { publicKey: { hint: keyHint }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: envelope,
  };
}
