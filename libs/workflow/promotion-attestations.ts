import type { EnvironmentConfig } from '#libs/config/index.js';
import { canonicalJson, sha256Hex } from '#libs/domain/index.js';
import {
  digestSet,
  PROMOTER_VERIFIER_ID,
  type PromotionDecisionRecord,
  type PromotionPredicate,
  type VsaPredicate,
} from '#libs/signing/index.js';
import type { PromotionRecord } from './promotion-state.service.js';

/**
 * When verification was complete: the latest gate result, approval or review. Derived from stored
 * facts, never from the clock, so a retried promotion attests the same bytes and adds nothing twice.
 */
function verifiedAt(record: PromotionRecord): Date {
  const times = [
    record.promotion.createdAt,
    ...record.gates.map((g) => g.updatedAt),
    ...record.approvals.map((a) => a.createdAt),
    ...record.reviews.map((r) => r.createdAt),
  ].map((d) => d.getTime());
  return new Date(Math.max(...times));
}

const gateUri = (id: string, gate: string) => `${PROMOTER_VERIFIER_ID}/promotions/${id}/gates/${gate}`;

/** The SLSA VSA: the target image passed the environment's policy (its gates, approvals and reviews). */
export function verificationSummary(record: PromotionRecord, env: EnvironmentConfig): VsaPredicate {
  const p = record.promotion;
  const policy = { environment: env.name, from: env.from, gates: env.gates, approvals: env.approvals, reviews: env.reviews };
  const passed = record.gates.filter((g) => g.status === 'passed' || g.status === 'waived');
  return {
    verifier: { id: PROMOTER_VERIFIER_ID },
    timeVerified: verifiedAt(record).toISOString(),
    resourceUri: `${p.targetRepository}@${p.digest}`,
    policy: { uri: `${PROMOTER_VERIFIER_ID}/environments/${env.name}`, digest: { sha256: sha256Hex(canonicalJson(policy)) } },
    inputAttestations: [...record.gates]
      .sort((a, b) => (a.gate < b.gate ? -1 : 1))
      .filter((g) => g.evidenceDigest)
      .map((g) => ({ uri: gateUri(p.id, g.gate), digest: digestSet(g.evidenceDigest!) })),
    verificationResult: 'PASSED',
    verifiedLevels: [
      ...passed.map((g) => `IMAGE_PROMOTER_GATE_${g.gate.toUpperCase()}`).sort(),
      ...(record.approvals.length > 0 || record.reviews.length > 0 ? ['IMAGE_PROMOTER_APPROVED'] : []),
    ],
  };
}

/** Our promotion record: source and target, each gate, each approval and review. */
export function promotionPredicate(record: PromotionRecord, tags: string[], signed: boolean): PromotionPredicate {
  const p = record.promotion;
  const decision = (
    kind: string,
    r: { approverId?: string; reviewerId?: string; channel: string; createdAt: Date; evidenceDigest: string },
    id: string,
    name: string,
    verdict: string,
  ): PromotionDecisionRecord => ({
    kind,
    principal: { id, name },
    decision: verdict,
    via: r.channel,
    time: r.createdAt.toISOString(),
    evidenceDigest: r.evidenceDigest,
  });
  const byTime = <T extends { createdAt: Date; id: string }>(rows: T[]) =>
    [...rows].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1));
  return {
    promotion: {
      id: p.id,
      round: p.round,
      requestedBy: { id: p.requestedBy, name: p.requestedByName },
      reason: p.reason,
      requestedAt: p.createdAt.toISOString(),
    },
    source: { environment: p.source, reference: `${p.repository}@${p.digest}`, digest: p.digest },
    target: { environment: p.target, reference: `${p.targetRepository}@${p.digest}`, digest: p.digest, tags: [...tags].sort() },
    gates: [...record.gates]
      .sort((a, b) => (a.gate < b.gate ? -1 : 1))
      .map((g) => ({ gate: g.gate, status: g.status, summary: g.summary, evidenceDigest: g.evidenceDigest })),
    evidenceDigest: p.evidenceDigest,
    approvals: byTime(record.approvals).map((a) => decision('approval', a, a.approverId, a.approverName, a.decision)),
    reviews: byTime(record.reviews).map((r) => decision(r.kind, r, r.reviewerId, r.reviewerName, r.verdict)),
    signed,
    promoter: { id: PROMOTER_VERIFIER_ID },
  };
}
