import { z } from 'zod';
import { parseDuration } from '#libs/domain/index.js';

/** How often a job is tried (the first attempt included) and the first wait; waits double after each failure. */
export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
}

/** `worker:` in promoter.yaml: how much work runs at once and how failures are retried. */
export interface WorkerConfig {
  /** Jobs of each kind one worker process runs at once; `blobs`: blobs one copy moves at once. */
  concurrency: { promote: number; gates: number; notify: number; blobs: number };
  retries: {
    /** Whole promote jobs (copy, sign, attest); each registry request also retries on its own (`registry`). */
    promote: RetryPolicy;
    /** Each gate evaluation; when they run out the gate reports `error` and the promotion is blocked. */
    gates: RetryPolicy;
    /** Slack messages and webhooks; when they run out the notice is dropped. */
    notify: RetryPolicy;
    /** One registry request, on connection errors, 429 and 5xx; waits are random up to the doubling bound, at most maxBackoff. */
    registry: RetryPolicy & { maxBackoffMs: number };
  };
}

/** Today's behaviour: what a pipeline file without `worker:` gets. */
export const WORKER_DEFAULTS: WorkerConfig = {
  concurrency: { promote: 2, gates: 4, notify: 4, blobs: 6 },
  retries: {
    promote: { attempts: 3, backoffMs: 1_000 },
    gates: { attempts: 5, backoffMs: 1_000 },
    notify: { attempts: 8, backoffMs: 2_000 },
    registry: { attempts: 4, backoffMs: 250, maxBackoffMs: 8_000 },
  },
};

const wait = z.string().transform((text, ctx) => {
  try {
    const ms = parseDuration(text);
    if (ms > 3_600_000) throw new Error('must be at most 1h');
    return ms;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
const count = (max: number) => z.number().int().min(1).max(max);
const retry = z.strictObject({ attempts: count(100).optional(), backoff: wait.optional() });

export const workerConfigSchema = z.strictObject({
  concurrency: z
    .strictObject({ promote: count(64).optional(), gates: count(64).optional(), notify: count(64).optional(), blobs: count(32).optional() })
    .optional(),
  retries: z
    .strictObject({
      promote: retry.optional(),
      gates: retry.optional(),
      notify: retry.optional(),
      registry: z.strictObject({ attempts: count(20).optional(), backoff: wait.optional(), maxBackoff: wait.optional() }).optional(),
    })
    .optional(),
});

type RetryInput = { attempts?: number; backoff?: number } | undefined;
const policy = (given: RetryInput, fallback: RetryPolicy): RetryPolicy => ({
  attempts: given?.attempts ?? fallback.attempts,
  backoffMs: given?.backoff ?? fallback.backoffMs,
});

/** The parsed `worker:` section with every key not written taken from WORKER_DEFAULTS. */
export function workerConfig(raw: z.output<typeof workerConfigSchema> | undefined): WorkerConfig {
  const d = WORKER_DEFAULTS;
  const registry = raw?.retries?.registry;
  return {
    concurrency: { ...d.concurrency, ...raw?.concurrency },
    retries: {
      promote: policy(raw?.retries?.promote, d.retries.promote),
      gates: policy(raw?.retries?.gates, d.retries.gates),
      notify: policy(raw?.retries?.notify, d.retries.notify),
      registry: { ...policy(registry, d.retries.registry), maxBackoffMs: registry?.maxBackoff ?? d.retries.registry.maxBackoffMs },
    },
  };
}

/** BullMQ's job options for a retry policy. */
export function jobRetry(policy: RetryPolicy): { attempts: number; backoff: { type: 'exponential'; delay: number } } {
  return { attempts: policy.attempts, backoff: { type: 'exponential', delay: policy.backoffMs } };
}
