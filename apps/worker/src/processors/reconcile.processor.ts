import { Processor, WorkerHost } from '@nestjs/bullmq';
import { type OnApplicationBootstrap } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { AppConfig } from '#libs/config/index.js';
import { JobQueues, JOBS, QUEUES } from '#libs/queue/index.js';
import { ReconcilerService, type ReconcileReport } from '#libs/workflow/index.js';
import { Schedules } from './schedules.js';

@Processor(QUEUES.reconcile)
export class ReconcileProcessor extends WorkerHost implements OnApplicationBootstrap {
  constructor(
    private readonly reconciler: ReconcilerService,
    private readonly queues: JobQueues,
    private readonly config: AppConfig,
    private readonly schedules: Schedules,
  ) {
    super();
  }

  /** One schedule however many workers run (the scheduler id is fixed); each worker puts it back if Redis lost it. */
  async onApplicationBootstrap(): Promise<void> {
    await this.schedules.keep(this.queues.reconcile, JOBS.reconcile, this.config.process.reconcileIntervalMs, {
      name: JOBS.reconcile,
      opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } },
    });
  }

  async process(job: Job): Promise<ReconcileReport> {
    if (job.name !== JOBS.reconcile) throw new UnrecoverableError(`no handler for job '${job.name}' on the reconcile queue`);
    return this.reconciler.run();
  }
}
