import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { z } from 'zod';
import { AppConfig } from '#libs/config/index.js';
import { JOBS, QUEUES } from '#libs/queue/index.js';
import { isRegistryError } from '#libs/registry/index.js';
import { keepPromoteStep, PromoteService } from '#libs/workflow/index.js';
import { InFlight } from './in-flight.js';

const promoteJobSchema = z.strictObject({ promotionId: z.uuid() });

/** Copies run `worker.concurrency.promote` at a time per worker (2 by default): each already copies several blobs at once. */
@Processor(QUEUES.promote)
export class PromoteProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(PromoteProcessor.name);

  constructor(
    private readonly promote: PromoteService,
    private readonly inFlight: InFlight,
    private readonly config: AppConfig,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.pipeline.worker.concurrency.promote;
  }

  async process(job: Job<unknown>): Promise<string> {
    if (job.name !== JOBS.promote) throw new UnrecoverableError(`no handler for job '${job.name}' on the promote queue`);
    const parsed = promoteJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed promote job ${job.id}: ${parsed.error.message}`);
    try {
      const id = parsed.data.promotionId;
      return await this.inFlight.track(`the copy of promotion ${id}`, () => this.promote.execute(id));
    } catch (err) {
      // Refused credentials, a missing image, a digest mismatch: trying again cannot help.
      if (isRegistryError(err) && !err.retryable) throw keepPromoteStep(err, new UnrecoverableError(err.message));
      throw err;
    }
  }

  /** Out of attempts, or nothing to retry: the promotion ends `failed` with the registry's error. */
  @OnWorkerEvent('failed')
  async onFailed(job: Job<unknown> | undefined, err: Error): Promise<void> {
    const parsed = promoteJobSchema.safeParse(job?.data);
    if (!job || !parsed.success) return;
    const final = err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    const attempt = Math.max(1, job.attemptsMade);
    if (!final) {
      await this.promote
        .noteError(parsed.data.promotionId, err, attempt)
        .catch((e: Error) => this.logger.error(`could not record the error: ${e.message}`));
      return;
    }
    // The failure is logged with its reason once recorded (LifecycleLog), like every other step.
    await this.promote
      .fail(parsed.data.promotionId, err, attempt)
      .catch((e: Error) => this.logger.error(`could not record the failure: ${e.message}`));
  }
}
