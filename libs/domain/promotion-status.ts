export const PROMOTION_STATUSES = [
  'pending',
  'evaluating',
  'awaiting_approval',
  'approved',
  'promoting',
  'promoted',
  'rejected',
  'blocked',
  'failed',
  'cancelled',
  'expired',
] as const;

export type PromotionStatus = (typeof PROMOTION_STATUSES)[number];

/** No way out. `blocked` (re-evaluation) and `failed` (a release manager's retry) are not terminal. */
export const TERMINAL_STATUSES: readonly PromotionStatus[] = ['promoted', 'rejected', 'cancelled', 'expired'];

export function isTerminal(s: PromotionStatus): boolean {
  return TERMINAL_STATUSES.includes(s);
}

export function isPromotionStatus(s: string): s is PromotionStatus {
  return (PROMOTION_STATUSES as readonly string[]).includes(s);
}
