import { Processor, WorkerHost } from '@nestjs/bullmq';
import { type OnApplicationBootstrap } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { AppConfig } from '../../../../libs/config/index.js';
import { JobQueues, JOBS, QUEUES } from '../../../../libs/queue/index.js';
import { ReconcilerService, type ReconcileReport } from '../../../../libs/workflow/index.js';

@Processor(QUEUES.reconcile)
export class ReconcileProcessor extends WorkerHost implements OnApplicationBootstrap {
  constructor(
    private readonly reconciler: ReconcilerService,
    private readonly queues: JobQueues,
    private readonly config: AppConfig,
  ) {
    super();
  }

  /** One schedule however many workers run: the scheduler id is fixed. */
  async onApplicationBootstrap(): Promise<void> {
    await this.queues.reconcile.upsertJobScheduler(
      JOBS.reconcile,
      { every: this.config.process.reconcileIntervalMs },
      { name: JOBS.reconcile, opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } } },
    );
  }

  async process(job: Job): Promise<ReconcileReport> {
    if (job.name !== JOBS.reconcile) throw new UnrecoverableError(`no handler for job '${job.name}' on the reconcile queue`);
    return this.reconciler.run();
  }
}
