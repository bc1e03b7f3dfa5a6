import type { GateType } from '#libs/config/index.js';

/** One queue per kind of work. Gate queues are named after the gate they evaluate. */
export const QUEUES = {
  verify: 'verify',
  scan: 'scan',
  policy: 'policy',
  promote: 'promote',
  notify: 'notify',
  reconcile: 'reconcile',
  /** The audit log: on-demand checkpoints and copies of each checkpoint outside the database. */
  audit: 'audit',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const GATE_QUEUES: Record<GateType, QueueName> = {
  signature: QUEUES.verify,
  scan: QUEUES.scan,
  policy: QUEUES.policy,
};

export const JOBS = {
  evaluateGate: 'evaluate-gate',
  promote: 'promote',
  reconcile: 'reconcile',
  auditCheckpoint: 'audit-checkpoint',
  auditPublish: 'audit-publish',
} as const;

export interface GateJobData {
  promotionId: string;
  gate: GateType;
  /** Evaluation round: a job from an earlier round is ignored. */
  round: number;
}

export interface PromoteJobData {
  promotionId: string;
}

export type ReconcileJobData = Record<string, never>;

/** One promote job per promotion at a time; it is removed when it ends, so a retry can queue it again. */
export function promoteJobId(promotionId: string): string {
  return `promote-${promotionId}`;
}

/** Deterministic: enqueuing the same gate of the same round twice is a no-op. */
export function gateJobId(data: GateJobData): string {
  return `${data.gate}-${data.promotionId}-r${data.round}`;
}

/** Copy one checkpoint out of the database: to a webhook (by its index in the config) or the OCI registry. */
export interface AuditPublishJobData {
  size: number;
  target: { webhook: number } | { registry: true };
}
