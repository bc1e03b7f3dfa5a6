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

/**
 * What the service itself owes a promotion in a status: gate evaluations, the copy, or nothing
 * (it waits on people, or it is finished). The follow-up queuing, the gate claim and the
 * reconciler all ask this one table, so a new status is a compile error here, not a missed query.
 */
export type OwedWork = 'gates' | 'copy' | 'nothing';

/** Where a status stands: moving on by itself or by a decision, stuck until someone acts, or finished. */
export type StatusPhase = 'live' | 'stuck' | 'terminal';

interface StatusMeaning {
  owes: OwedWork;
  phase: StatusPhase;
  /** The reconciler expires it once `expiresAt` passes (approvers or a re-evaluation never came). */
  expires: boolean;
}

const MEANING: Readonly<Record<PromotionStatus, StatusMeaning>> = {
  pending: { owes: 'gates', phase: 'live', expires: false },
  evaluating: { owes: 'gates', phase: 'live', expires: false },
  awaiting_approval: { owes: 'nothing', phase: 'live', expires: true },
  approved: { owes: 'copy', phase: 'live', expires: false },
  promoting: { owes: 'copy', phase: 'live', expires: false },
  // Not terminal, but nothing moves on by itself: re-evaluation (blocked) or a retry (failed) is needed.
  blocked: { owes: 'nothing', phase: 'stuck', expires: true },
  failed: { owes: 'nothing', phase: 'stuck', expires: false },
  promoted: { owes: 'nothing', phase: 'terminal', expires: false },
  rejected: { owes: 'nothing', phase: 'terminal', expires: false },
  cancelled: { owes: 'nothing', phase: 'terminal', expires: false },
  expired: { owes: 'nothing', phase: 'terminal', expires: false },
};

export function owedWork(s: PromotionStatus): OwedWork {
  return MEANING[s].owes;
}

function where(test: (m: StatusMeaning) => boolean): readonly PromotionStatus[] {
  return Object.freeze(PROMOTION_STATUSES.filter((s) => test(MEANING[s])));
}

/** The statuses of each group, in PROMOTION_STATUSES order; every list of statuses elsewhere derives from these. */
export const STATUS_GROUPS = Object.freeze({
  /** Not finished: moving on by itself or by a decision. */
  live: where((m) => m.phase === 'live'),
  owesGates: where((m) => m.owes === 'gates'),
  owesCopy: where((m) => m.owes === 'copy'),
  stuck: where((m) => m.phase === 'stuck'),
  /** No way out. `blocked` (re-evaluation) and `failed` (a release manager's retry) are not terminal. */
  terminal: where((m) => m.phase === 'terminal'),
  expirable: where((m) => m.expires),
});

export type StatusGroup = keyof typeof STATUS_GROUPS;

export const TERMINAL_STATUSES: readonly PromotionStatus[] = STATUS_GROUPS.terminal;

export function isTerminal(s: PromotionStatus): boolean {
  return MEANING[s].phase === 'terminal';
}

export function isStuck(s: PromotionStatus): boolean {
  return MEANING[s].phase === 'stuck';
}

export function isExpirable(s: PromotionStatus): boolean {
  return MEANING[s].expires;
}

export function isPromotionStatus(s: string): s is PromotionStatus {
  return (PROMOTION_STATUSES as readonly string[]).includes(s);
}
