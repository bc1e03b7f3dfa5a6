import { describe, expect, it } from 'vitest';
import { PROMOTION_STATUSES, TERMINAL_STATUSES, isPromotionStatus, isTerminal } from './promotion-status.js';

describe('isTerminal', () => {
  it.each(['promoted', 'rejected', 'cancelled', 'expired'] as const)('%s is terminal', (s) => {
    expect(isTerminal(s)).toBe(true);
  });

  it.each(['pending', 'evaluating', 'awaiting_approval', 'approved', 'promoting', 'blocked', 'failed'] as const)(
    '%s is not terminal',
    (s) => {
      expect(isTerminal(s)).toBe(false);
    },
  );

  it('terminal statuses are all known statuses', () => {
    expect(TERMINAL_STATUSES.every((s) => PROMOTION_STATUSES.includes(s))).toBe(true);
  });
});

describe('isPromotionStatus', () => {
  it.each(PROMOTION_STATUSES)('accepts %s', (s) => {
    expect(isPromotionStatus(s)).toBe(true);
  });

  it.each(['', 'PENDING', 'done', 'awaiting-approval', 'toString'])('refuses %j', (s) => {
    expect(isPromotionStatus(s)).toBe(false);
  });
});
