import { PromotionError } from './errors.js';

export interface ApprovalRule {
  required: number;
  roles: readonly string[];
  expiresAfterMs: number | null;
  reviews: readonly string[];
}

export const DECISIONS = ['approve', 'reject'] as const;

export type Decision = (typeof DECISIONS)[number];

export interface ApprovalRecord {
  approverId: string;
  decision: Decision;
  digest: string;
  evidenceDigest: string;
  at: Date;
}

export interface ReviewRecord {
  reviewerId: string;
  kind: string;
  verdict: Decision;
  digest: string;
  evidenceDigest: string;
  at: Date;
}

export interface DeciderInput {
  id: string;
  roles: readonly string[];
}

/** What a decision must be bound to in order to count: the image digest and gate evidence as they are now. */
export interface Bound {
  digest: string;
  evidenceDigest: string;
  now: Date;
}

interface Bindable {
  digest: string;
  evidenceDigest: string;
  at: Date;
}

export function isStale(rec: Bindable, bound: Bound): boolean {
  return rec.digest !== bound.digest || rec.evidenceDigest !== bound.evidenceDigest;
}

export function isExpired(rec: Bindable, rule: ApprovalRule, bound: Bound): boolean {
  return rule.expiresAfterMs !== null && bound.now.getTime() - rec.at.getTime() >= rule.expiresAfterMs;
}

export function countsNow(rec: Bindable, rule: ApprovalRule, bound: Bound): boolean {
  return !isStale(rec, bound) && !isExpired(rec, rule, bound);
}

export function checkApprover(
  rule: ApprovalRule,
  requesterId: string,
  approver: DeciderInput,
  existing: readonly ApprovalRecord[],
  bound: Bound,
): void {
  if (approver.id === requesterId) {
    throw new PromotionError('self_approval', 'the requester cannot approve their own promotion', {
      approverId: approver.id,
    });
  }
  if (!approver.roles.some((r) => rule.roles.includes(r))) {
    const allowed = rule.roles.length > 0 ? rule.roles.join(', ') : '(none)';
    throw new PromotionError('role_not_allowed', `approving here needs one of these roles: ${allowed}`, {
      approverId: approver.id,
      allowedRoles: [...rule.roles],
    });
  }
  if (existing.some((r) => r.approverId === approver.id && countsNow(r, rule, bound))) {
    throw new PromotionError('duplicate_decision', 'this approver has already decided on the current evidence', {
      approverId: approver.id,
    });
  }
}

export function checkReviewer(
  rule: ApprovalRule,
  requesterId: string,
  reviewer: DeciderInput,
  kind: string,
  existing: readonly ReviewRecord[],
  bound: Bound,
): void {
  if (!rule.reviews.includes(kind)) {
    throw new PromotionError('review_not_required', `a ${kind} review is not required here`, {
      kind,
      requiredReviews: [...rule.reviews],
    });
  }
  if (reviewer.id === requesterId) {
    throw new PromotionError('self_approval', 'the requester cannot review their own promotion', {
      reviewerId: reviewer.id,
    });
  }
  if (existing.some((r) => r.reviewerId === reviewer.id && r.kind === kind && countsNow(r, rule, bound))) {
    const message = `this reviewer has already given a ${kind} review on the current evidence`;
    throw new PromotionError('duplicate_decision', message, { reviewerId: reviewer.id, kind });
  }
}

export interface ApprovalTally {
  decision: 'approved' | 'rejected' | 'waiting';
  /** Distinct approver ids whose approvals count now. */
  approvers: string[];
  required: number;
  /** max(0, required - approvers.length) */
  needed: number;
  /** Review kinds the rule demands that have no counting 'approve' review. */
  missingReviews: string[];
  /** Id of the earliest counting rejection, from an approval or a review. */
  rejectedBy: string | null;
  /** Decisions that no longer count because the digest or evidence changed. */
  stale: number;
  /** Decisions that no longer count because they expired. */
  expired: number;
}

interface Decided {
  by: string;
  rejects: boolean;
  at: Date;
}

export function tallyApprovals(
  rule: ApprovalRule,
  approvals: readonly ApprovalRecord[],
  reviews: readonly ReviewRecord[],
  bound: Bound,
): ApprovalTally {
  let stale = 0;
  let expired = 0;
  const counts = (rec: ApprovalRecord | ReviewRecord): boolean => {
    if (countsNow(rec, rule, bound)) return true;
    if (isStale(rec, bound)) stale++;
    else expired++;
    return false;
  };

  const byTime = (a: { at: Date }, b: { at: Date }) => a.at.getTime() - b.at.getTime();
  const liveApprovals = approvals.filter(counts).sort(byTime);
  const liveReviews = reviews.filter(counts).sort(byTime);

  const approvers = [...new Set(liveApprovals.filter((a) => a.decision === 'approve').map((a) => a.approverId))];
  const reviewed = new Set(liveReviews.filter((r) => r.verdict === 'approve').map((r) => r.kind));
  const missingReviews = [...new Set(rule.reviews)].filter((kind) => !reviewed.has(kind));

  const decided: Decided[] = [
    ...liveApprovals.map((a) => ({ by: a.approverId, rejects: a.decision === 'reject', at: a.at })),
    ...liveReviews.map((r) => ({ by: r.reviewerId, rejects: r.verdict === 'reject', at: r.at })),
  ];
  const rejectedBy = decided.filter((d) => d.rejects).sort(byTime)[0]?.by ?? null;

  const decision =
    rejectedBy !== null ? 'rejected' : approvers.length >= rule.required && missingReviews.length === 0 ? 'approved' : 'waiting';

  return {
    decision,
    approvers,
    required: rule.required,
    needed: Math.max(0, rule.required - approvers.length),
    missingReviews,
    rejectedBy,
    stale,
    expired,
  };
}
