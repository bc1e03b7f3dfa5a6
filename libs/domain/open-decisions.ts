import {
  countsNow,
  tallyApprovals,
  type ApprovalRecord,
  type ApprovalRule,
  type Bound,
  type DeciderInput,
  type ReviewRecord,
} from './approval-rule.js';

export interface OpenDecisions {
  /** An approval from this person is still needed and would count. */
  approve: boolean;
  /** Review kinds still missing that this person may give. */
  reviews: string[];
}

/**
 * What a person may still decide on a promotion awaiting approval, by the rules `checkApprover`
 * and `checkReviewer` apply: nothing on their own request, nothing twice on the same evidence, and
 * only what is still missing. `mayReview` says whether they hold a reviewing role at all.
 */
export function openDecisions(
  rule: ApprovalRule,
  requesterId: string,
  decider: DeciderInput & { mayReview: boolean },
  approvals: readonly ApprovalRecord[],
  reviews: readonly ReviewRecord[],
  bound: Bound,
): OpenDecisions {
  if (decider.id === requesterId) return { approve: false, reviews: [] };
  const tally = tallyApprovals(rule, approvals, reviews, bound);
  if (tally.decision !== 'waiting') return { approve: false, reviews: [] };
  const decided = approvals.some((a) => a.approverId === decider.id && countsNow(a, rule, bound));
  const approve = tally.needed > 0 && !decided && decider.roles.some((r) => rule.roles.includes(r));
  const reviewed = (kind: string) => reviews.some((r) => r.reviewerId === decider.id && r.kind === kind && countsNow(r, rule, bound));
  return { approve, reviews: decider.mayReview ? tally.missingReviews.filter((kind) => !reviewed(kind)) : [] };
}
