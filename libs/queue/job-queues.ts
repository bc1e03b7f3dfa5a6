import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { AppConfig, jobRetry, type GateType } from '../config/index.js';
import { gatesReadyToStart } from '../domain/index.js';
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

  async enqueuePromote(promotionId: string): Promise<void> {
    const data: PromoteJobData = { promotionId };
    await this.promote.add(JOBS.promote, data, {
      jobId: promoteJobId(promotionId),
      // The copy retries inside the registry client too; these are whole-job attempts on top of that.
      ...jobRetry(this.config.pipeline.worker.retries.promote),
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  /** Queues those of a round's pending gates that may start now (the policy gate goes last). */
  async enqueueGates(promotionId: string, round: number, gates: readonly GateType[]): Promise<void> {
    await Promise.all(
      gatesReadyToStart(gates).map((gate) => {
        const data: GateJobData = { promotionId, gate, round };
        return this.byName.get(GATE_QUEUES[gate])!.add(JOBS.evaluateGate, data, { jobId: gateJobId(data) });
      }),
    );
  }

  async ping(): Promise<void> {
    await this.reconcile.getJobCounts('wait');
  }
}
