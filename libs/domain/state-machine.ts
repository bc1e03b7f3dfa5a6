import { PromotionError } from './errors.js';
import type { PromotionStatus } from './promotion-status.js';

export type PromotionEvent =
  | 'start_evaluation'
  | 'gates_passed'
  | 'gates_failed'
  | 'approved'
  | 'rejected'
  | 'begin_promote'
  | 'promote_succeeded'
  | 'promote_failed'
  | 'cancel'
  | 'expire'
  | 'reevaluate'
  | 'retry';

type Transitions = Partial<Record<PromotionEvent, PromotionStatus>>;

// Anything absent from this table is refused; terminal statuses have no way out.
const TRANSITIONS: Record<PromotionStatus, Transitions> = {
  pending: { start_evaluation: 'evaluating', cancel: 'cancelled' },
  evaluating: { gates_passed: 'awaiting_approval', gates_failed: 'blocked', cancel: 'cancelled' },
  awaiting_approval: {
    approved: 'approved',
    rejected: 'rejected',
    cancel: 'cancelled',
    expire: 'expired',
    reevaluate: 'pending',
  },
  approved: { begin_promote: 'promoting', cancel: 'cancelled', expire: 'expired' },
  // Once the registry copy has begun it cannot be cancelled: it must succeed or fail.
  promoting: { promote_succeeded: 'promoted', promote_failed: 'failed' },
  blocked: { cancel: 'cancelled', expire: 'expired', reevaluate: 'pending' },
  promoted: {},
  rejected: {},
  // The copy gave up; a release manager may try it again, on the approvals that still count.
  failed: { retry: 'approved', cancel: 'cancelled' },
  cancelled: {},
  expired: {},
};

export function canApply(from: PromotionStatus, event: PromotionEvent): boolean {
  return TRANSITIONS[from][event] !== undefined;
}

export function nextStatus(
  from: PromotionStatus,
  event: PromotionEvent,
  opts?: { approvalRequired?: boolean; approvalsStand?: boolean },
): PromotionStatus {
  const to = TRANSITIONS[from][event];
  if (to === undefined) {
    throw new PromotionError('invalid_transition', `cannot ${event} a promotion that is ${from}`, { from, event });
  }
  // Only an explicit `false` skips approval, so a missing option fails closed.
  if (event === 'gates_passed' && opts?.approvalRequired === false) return 'approved';
  // A retry reuses the approvals only while they still count (they may have expired since).
  if (event === 'retry' && opts?.approvalsStand === false) return 'awaiting_approval';
  return to;
}
