import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import type { JobsOptions, Queue } from 'bullmq';
import { AppConfig, jobRetry, type GateType } from '#libs/config/index.js';
import { gatesReadyToStart } from '#libs/domain/index.js';
import { GATE_QUEUES, JOBS, QUEUES, gateJobId, promoteJobId, type GateJobData, type PromoteJobData } from './queues.js';

/** The producer side: what the API and the reconciler put on the queues. */
@Injectable()
export class JobQueues {
  private readonly byName: Map<string, Queue>;

  constructor(
    @InjectQueue(QUEUES.verify) verify: Queue,
    @InjectQueue(QUEUES.scan) scan: Queue,
    @InjectQueue(QUEUES.policy) policy: Queue,
    @InjectQueue(QUEUES.promote) private readonly promote: Queue,
    @InjectQueue(QUEUES.reconcile) readonly reconcile: Queue,
    private readonly config: AppConfig,
  ) {
    this.byName = new Map([verify, scan, policy, reconcile].map((q) => [q.name, q]));
  }

  /** True when a job was put on the queue; false when one for this promotion is already waiting or running. */
  async enqueuePromote(promotionId: string, delayMs = 0): Promise<boolean> {
    const data: PromoteJobData = { promotionId };
    return this.enqueue(this.promote, JOBS.promote, data, {
      jobId: promoteJobId(promotionId),
      // The copy retries inside the registry client too; these are whole-job attempts on top of that.
      ...jobRetry(this.config.pipeline.worker.retries.promote),
      removeOnComplete: true,
      removeOnFail: true,
      ...(delayMs > 0 ? { delay: delayMs } : {}),
    });
  }

  /**
   * Queues those of a round's pending gates that may start now (the policy gate goes last).
   * Returns how many jobs were really put on a queue (not those already waiting or running).
   */
  async enqueueGates(promotionId: string, round: number, gates: readonly GateType[]): Promise<number> {
    const added = await Promise.all(
      gatesReadyToStart(gates).map((gate) => {
        const data: GateJobData = { promotionId, gate, round };
        return this.enqueue(this.byName.get(GATE_QUEUES[gate])!, JOBS.evaluateGate, data, { jobId: gateJobId(data) });
      }),
    );
    return added.filter(Boolean).length;
  }

  /**
   * BullMQ's `add` with a fixed id is a no-op while a job with that id exists in any state, and a
   * failed job keeps its id for a day (removeOnFail). The caller only asks again because
   * PostgreSQL says the work is still owed, so a finished job with the id is stale: it is removed
   * and the work queued afresh. A job still waiting, delayed or running is left alone.
   */
  private async enqueue(queue: Queue, name: string, data: object, opts: JobsOptions & { jobId: string }): Promise<boolean> {
    const existing = await queue.getJob(opts.jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'failed' && state !== 'completed' && state !== 'unknown') return false;
      // A job another worker is finishing at this moment is locked; then it is not ours to replace.
      await existing.remove().catch(() => undefined);
      if (await queue.getJob(opts.jobId)) return false;
    }
    await queue.add(name, data, opts);
    return true;
  }

  async ping(): Promise<void> {
    await this.reconcile.getJobCounts('wait');
  }
}
