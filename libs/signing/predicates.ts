import { createHash } from 'node:crypto';

/** Who verified: the promoter, as named in every VSA it writes. */
export const PROMOTER_VERIFIER_ID = 'https://image-promoter.dev/promoter';

export type DigestSet = Record<string, string>;

export interface ResourceDescriptor {
  uri: string;
  digest: DigestSet;
}

/** SLSA Verification Summary Attestation v1 (https://slsa.dev/spec/v1.0/verification_summary). */
export interface VsaPredicate {
  verifier: { id: string; version?: Record<string, string> };
  timeVerified: string;
  resourceUri: string;
  policy: ResourceDescriptor;
  inputAttestations: ResourceDescriptor[];
  verificationResult: 'PASSED' | 'FAILED';
  verifiedLevels: string[];
  slsaVersion?: string;
}

export interface PromotionGateRecord {
  gate: string;
  status: string;
  summary: string;
  evidenceDigest: string | null;
}

export interface PromotionDecisionRecord {
  /** approval, or the review kind (e.g. `security`). */
  kind: string;
  principal: { id: string; name: string };
  decision: string;
  /** The channel it came through: api, slack, cli. */
  via: string;
  time: string;
  evidenceDigest: string;
}

/** Our promotion record predicate: what was promoted, from where to where, on what evidence, by whose leave. */
export interface PromotionPredicate {
  promotion: { id: string; round: number; requestedBy: { id: string; name: string }; reason: string; requestedAt: string };
  source: { environment: string; reference: string; digest: string };
  target: { environment: string; reference: string; digest: string; tags: string[] };
  gates: PromotionGateRecord[];
  evidenceDigest: string | null;
  approvals: PromotionDecisionRecord[];
  reviews: PromotionDecisionRecord[];
  /** Whether the promoter signed the target (false when no signing key is configured). */
  signed: boolean;
  promoter: { id: string };
}

/** `sha256:<hex>` → `{sha256: <hex>}`, the in-toto digest-set form. */
export function digestSet(digest: string): DigestSet {
  const [alg, hex] = digest.split(':', 2);
  return alg && hex ? { [alg]: hex } : {};
}

export function sha256Set(bytes: string | Uint8Array): DigestSet {
  return { sha256: createHash('sha256').update(bytes).digest('hex') };
}
