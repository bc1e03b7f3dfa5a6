import { describe, expect, it } from 'vitest';
import { PromotionError } from './errors.js';
import { PROMOTION_STATUSES, TERMINAL_STATUSES, type PromotionStatus } from './promotion-status.js';
import { canApply, nextStatus, type PromotionEvent } from './state-machine.js';

const EVENTS: readonly PromotionEvent[] = [
  'start_evaluation',
  'gates_passed',
  'gates_failed',
  'approved',
  'rejected',
  'begin_promote',
  'promote_succeeded',
  'promote_failed',
  'cancel',
  'expire',
  'reevaluate',
  'retry',
];

const ALLOWED: readonly [PromotionStatus, PromotionEvent, PromotionStatus][] = [
  ['pending', 'start_evaluation', 'evaluating'],
  ['evaluating', 'gates_passed', 'awaiting_approval'],
  ['evaluating', 'gates_failed', 'blocked'],
  ['awaiting_approval', 'approved', 'approved'],
  ['awaiting_approval', 'rejected', 'rejected'],
  ['approved', 'begin_promote', 'promoting'],
  ['promoting', 'promote_succeeded', 'promoted'],
  ['promoting', 'promote_failed', 'failed'],
  ['pending', 'cancel', 'cancelled'],
  ['evaluating', 'cancel', 'cancelled'],
  ['awaiting_approval', 'cancel', 'cancelled'],
  ['approved', 'cancel', 'cancelled'],
  ['blocked', 'cancel', 'cancelled'],
  ['awaiting_approval', 'expire', 'expired'],
  ['approved', 'expire', 'expired'],
  ['blocked', 'expire', 'expired'],
  ['blocked', 'reevaluate', 'pending'],
  ['awaiting_approval', 'reevaluate', 'pending'],
  ['failed', 'retry', 'approved'],
  ['failed', 'cancel', 'cancelled'],
];

const isAllowed = (from: PromotionStatus, event: PromotionEvent) => ALLOWED.some(([f, e]) => f === from && e === event);

const REFUSED = PROMOTION_STATUSES.flatMap((from) =>
  EVENTS.filter((event) => !isAllowed(from, event)).map((event) => [from, event] as const),
);

function refusal(from: PromotionStatus, event: PromotionEvent): PromotionError {
  try {
    nextStatus(from, event);
  } catch (err) {
    if (err instanceof PromotionError) return err;
    throw err;
  }
  throw new Error(`${event} from ${from} was not refused`);
}

describe('allowed transitions', () => {
  it.each(ALLOWED)('%s --%s--> %s', (from, event, to) => {
    expect(canApply(from, event)).toBe(true);
    expect(nextStatus(from, event)).toBe(to);
  });

  it('gates_passed skips approval only when approvalRequired is explicitly false', () => {
    expect(nextStatus('evaluating', 'gates_passed', { approvalRequired: false })).toBe('approved');
    expect(nextStatus('evaluating', 'gates_passed', { approvalRequired: true })).toBe('awaiting_approval');
    expect(nextStatus('evaluating', 'gates_passed', {})).toBe('awaiting_approval');
    expect(nextStatus('evaluating', 'gates_passed')).toBe('awaiting_approval');
  });

  it('a retry goes back to awaiting approval when the approvals no longer stand (they expired)', () => {
    expect(nextStatus('failed', 'retry', { approvalsStand: false })).toBe('awaiting_approval');
    expect(nextStatus('failed', 'retry', { approvalsStand: true })).toBe('approved');
    expect(nextStatus('evaluating', 'gates_passed', { approvalsStand: false })).toBe('awaiting_approval');
  });

  it('approvalRequired has no effect on other events', () => {
    expect(nextStatus('evaluating', 'gates_failed', { approvalRequired: false })).toBe('blocked');
    expect(nextStatus('awaiting_approval', 'approved', { approvalRequired: false })).toBe('approved');
  });
});

describe('refused transitions', () => {
  it('covers every status/event pair not allowed', () => {
    expect(REFUSED.length + ALLOWED.length).toBe(PROMOTION_STATUSES.length * EVENTS.length);
  });

  it.each(REFUSED)('%s refuses %s', (from, event) => {
    expect(canApply(from, event)).toBe(false);
    const err = refusal(from, event);
    expect(err.code).toBe('invalid_transition');
    expect(err.message).toBe(`cannot ${event} a promotion that is ${from}`);
    expect(err.details).toEqual({ from, event });
  });

  const terminalPairs = TERMINAL_STATUSES.flatMap((from) => EVENTS.map((event) => [from, event] as const));
  it.each(terminalPairs)('terminal %s refuses %s', (from, event) => {
    expect(canApply(from, event)).toBe(false);
    expect(() => nextStatus(from, event)).toThrow(PromotionError);
  });

  it('a promotion already promoting cannot be cancelled or expired', () => {
    expect(refusal('promoting', 'cancel').code).toBe('invalid_transition');
    expect(refusal('promoting', 'expire').code).toBe('invalid_transition');
  });

  it('approvalRequired false does not open gates_passed outside evaluating', () => {
    expect(() => nextStatus('pending', 'gates_passed', { approvalRequired: false })).toThrow(PromotionError);
  });
});
