import { countsNow, type ApprovalRule, type ApprovalTally } from '#libs/domain/index.js';
import type { PromotionEntity } from '#libs/db/index.js';
import type { PromotionRecord } from './promotion-state.service.js';

/** The JSON shape of a promotion in every API answer. */
export function promotionSummary(p: PromotionEntity) {
  return {
    id: p.id,
    image: p.image,
    repository: p.repository,
    digest: p.digest,
    app: p.app,
    source: p.source,
    target: p.target,
    targetRepository: p.targetRepository,
    targetTag: p.targetTag,
    status: p.status,
    reason: p.reason,
    requestedBy: { id: p.requestedBy, name: p.requestedByName, person: p.requestedByPerson },
    round: p.round,
    evidenceDigest: p.evidenceDigest,
    expiresAt: p.expiresAt?.toISOString() ?? null,
    lastError: p.lastError ?? null,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

export function promotionView(record: PromotionRecord, tally: ApprovalTally, rule: ApprovalRule, now = new Date()) {
  const { promotion } = record;
  const bound = { digest: promotion.digest, evidenceDigest: promotion.evidenceDigest ?? '', now };
  const counts = (r: { digest: string; evidenceDigest: string; createdAt: Date }) =>
    countsNow({ digest: r.digest, evidenceDigest: r.evidenceDigest, at: r.createdAt }, rule, bound);
  return {
    ...promotionSummary(promotion),
    gates: [...record.gates]
      .sort((a, b) => (a.gate < b.gate ? -1 : 1))
      .map((g) => ({
        gate: g.gate,
        status: g.status,
        summary: g.summary,
        evidence: g.evidence,
        evidenceDigest: g.evidenceDigest,
        round: g.round,
        updatedAt: g.updatedAt.toISOString(),
      })),
    approvals: record.approvals.map((a) => ({
      id: a.id,
      approver: { id: a.approverId, name: a.approverName, person: a.approverPerson },
      decision: a.decision,
      comment: a.comment,
      via: a.channel,
      digest: a.digest,
      evidenceDigest: a.evidenceDigest,
      at: a.createdAt.toISOString(),
      counts: counts(a),
    })),
    reviews: record.reviews.map((r) => ({
      id: r.id,
      reviewer: { id: r.reviewerId, name: r.reviewerName, person: r.reviewerPerson },
      kind: r.kind,
      verdict: r.verdict,
      notes: r.notes,
      via: r.channel,
      digest: r.digest,
      evidenceDigest: r.evidenceDigest,
      at: r.createdAt.toISOString(),
      counts: counts(r),
    })),
    approval: {
      required: tally.required,
      roles: rule.roles,
      reviews: rule.reviews,
      approvers: tally.approvers,
      needed: tally.needed,
      missingReviews: tally.missingReviews,
      stale: tally.stale,
      expired: tally.expired,
      rejectedBy: tally.rejectedBy,
    },
    progress: record.progress ?? null,
  };
}

export type PromotionView = ReturnType<typeof promotionView>;
