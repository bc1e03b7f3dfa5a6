import { z } from 'zod';
import { jobRetry, NOTIFY_EVENTS, type WorkerConfig } from '#libs/config/index.js';
import { NEW_FINDINGS_JOB, type NewFindingsJobData } from '#libs/workflow/index.js';

/** Jobs on the `notify` queue. Each renders the promotion as it is when the job runs. */
export const NOTIFY_JOBS = {
  /** Post or update the promotion's Slack message, and post the notices its events call for. */
  slack: 'slack-sync',
  /** Deliver one event to one configured webhook. */
  webhook: 'webhook',
  /** Repeatable: queue syncs for Slack messages the database says are missing or behind. */
  catchUp: 'slack-catch-up',
  /** Queued by the scan watcher: new blocking findings on a promoted image → Slack notice and webhooks. */
  newFindings: NEW_FINDINGS_JOB,
} as const;

export const slackJobSchema = z.strictObject({
  promotionId: z.uuid(),
  /** The audit actions of the committed change, e.g. ['approval.approve', 'promotion.approved']. */
  events: z.array(z.string().max(100)).min(1).max(50),
});

export const webhookJobSchema = z.strictObject({
  promotionId: z.uuid(),
  event: z.enum(NOTIFY_EVENTS),
  /** The audit event's id: the delivery id receivers deduplicate on. */
  eventId: z.uuid(),
  at: z.string(),
  /** Index into the pipeline's `webhooks`: URLs come from the config only, never from a job. */
  webhook: z.number().int().min(0),
});

const newFindingSchema = z.strictObject({
  id: z.string().min(1).max(300),
  package: z.string().min(1).max(500),
  installedVersion: z.string().max(300),
  fixedVersion: z.string().max(300).nullable(),
  severity: z.string().min(1).max(20),
  source: z.string().max(100),
});

/** The scan watcher's job (NewFindingsJobData), checked like every job: the worker never trusts Redis blindly. */
export const newFindingsJobSchema = z.strictObject({
  promotionId: z.uuid(),
  environment: z.string().min(1).max(200),
  image: z.string().min(1).max(2000),
  digest: z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/, 'must be a digest'),
  failOn: z.string().min(1).max(20),
  importId: z.string().regex(/^\d+$/, 'must be an import id'),
  dbImportedAt: z.string().max(64),
  findings: z.array(newFindingSchema).min(1),
}) satisfies z.ZodType<NewFindingsJobData>;

export type SlackJobData = z.output<typeof slackJobSchema>;
export type WebhookJobData = z.output<typeof webhookJobSchema>;

/** Slack and webhooks may be away for a while; a notice that is late is still worth sending. */
export function notifyJobOptions(worker: WorkerConfig) {
  return { ...jobRetry(worker.retries.notify), removeOnComplete: { age: 3_600 }, removeOnFail: { age: 86_400 } };
}
