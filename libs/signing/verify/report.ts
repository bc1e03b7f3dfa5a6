// What a verification found, in the stable shape gate evidence and `promoctl verify` print.

export type RejectReason =
  | 'malformed' // layer, annotation, payload or envelope cannot be parsed, or is over a size limit
  | 'wrong-digest' // a valid signature, but over another image's digest
  | 'unknown-key' // no trusted key verifies it (another key signed, or bytes were altered)
  | 'bad-signature' // not a signature at all (truncated, not DER), or the certificate's key does not verify it
  | 'identity-mismatch' // the certificate's subject or OIDC issuer is not a trusted identity
  | 'untrusted-chain' // the certificate does not chain to a configured root, or may not sign code
  | 'expired-certificate' // the certificate is not valid at the time the log proves, or now without proof
  | 'invalid-timestamp' // no valid Rekor signed entry timestamp for a keyless signature
  | 'wrong-predicate' // an attestation of another predicate type or payload type
  | 'not-examined'; // past the number of layers one verification examines

export type VerifiedSigner =
  /** `fingerprint` repeats keyId (same form, keyIdOf) for policies written when the two differed. */
  | { kind: 'key'; keyId: string; fingerprint: string; source: string }
  | { kind: 'keyless'; issuer: string; subject: string; integratedTime: string; logIndex: number };

export interface ItemResult {
  /** Layer index in the `.sig` / `.att` manifest. */
  index: number;
  /** The layer's digest (the payload or envelope blob). */
  digest: string | null;
  /** Attestations and bundles: the statement's predicate type, when it could be read. */
  predicateType?: string;
  /** `referrer`: a sigstore bundle found through the OCI referrers (index = its place there); else a `.sig`/`.att` layer. */
  source?: 'referrer';
  accepted: boolean;
  signer?: VerifiedSigner;
  reason?: RejectReason;
  detail: string;
}

export interface ManifestResult {
  tag: string;
  /** Digest of the `.sig` / `.att` manifest read; null when there is none. */
  manifest: string | null;
  /** Layers the manifest lists; only the first `limits.maxLayers` are examined. */
  layers: number;
  examined: number;
  /** Set when the manifest itself could not be used. */
  problem?: string;
  items: ItemResult[];
}

export interface AttestationResult extends ManifestResult {
  predicateType: string;
  satisfied: boolean;
}

export interface VerificationLimits {
  maxLayers: number;
  maxPayloadBytes: number;
  maxEnvelopeBytes: number;
}

export interface VerificationReport {
  image: string;
  /** At least one valid signature and every attestation requirement met. */
  verified: boolean;
  limits: VerificationLimits;
  signatures: ManifestResult;
  attestations: AttestationResult[];
  /** Sigstore bundles (cosign 3) found as OCI referrers; their items are in `signatures` and `attestations`. */
  referrers: { listedBy: 'referrers-api' | 'fallback-tag' | null; found: number; examined: number; problem?: string };
  /** Each distinct signer whose signature verified, sorted: what policy rules see. */
  signers: VerifiedSigner[];
}

export type Outcome = { ok: true; signer: VerifiedSigner } | { ok: false; reason: RejectReason; detail: string };

export const reject = (reason: RejectReason, detail: string): Outcome => ({ ok: false, reason, detail });

export function signerLabel(s: VerifiedSigner): string {
  return s.kind === 'key'
    ? `key ${s.source} (${s.keyId})`
    : `${s.subject} via ${s.issuer} (Rekor entry ${s.logIndex}, ${s.integratedTime})`;
}

export function signerKey(s: VerifiedSigner): string {
  return s.kind === 'key' ? `key:${s.keyId}` : `keyless:${s.issuer}\n${s.subject}`;
}
