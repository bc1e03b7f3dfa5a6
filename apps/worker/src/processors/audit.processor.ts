import { Processor, WorkerHost } from '@nestjs/bullmq';
import { UnrecoverableError, type Job } from 'bullmq';
import { JOBS, QUEUES } from '../../../../libs/queue/index.js';
import { AuditIntegrator, type StoredCheckpoint } from '../../../../libs/workflow/index.js';

/** The audit queue: checkpoints the API asks for (it holds no key). */
@Processor(QUEUES.audit)
export class AuditProcessor extends WorkerHost {
  constructor(private readonly integrator: AuditIntegrator) {
    super();
  }

  async process(job: Job): Promise<StoredCheckpoint> {
    if (job.name === JOBS.auditCheckpoint) return this.integrator.checkpointNow();
    throw new UnrecoverableError(`no handler for job '${job.name}' on the audit queue`);
  }
}
