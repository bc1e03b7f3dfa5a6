import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { AppConfig } from '#libs/config/index.js';
import { JOBS, QUEUES, type AuditPublishJobData } from '#libs/queue/index.js';
import { HOLDS_SIGNING_KEY } from '../core.module.js';
import { Inject } from '@nestjs/common';
import { AuditIntegrator } from './audit-integrator.service.js';

/**
 * Sends every new checkpoint out of the database: one job per webhook that wants
 * `audit.checkpoint` and one for the registry copy. A job id per size and target makes a repeat a
 * no-op; the jobs retry while the receiver is away, and a lost one is only a missing copy.
 */
@Injectable()
export class AuditPublisher implements OnModuleInit {
  private readonly logger = new Logger(AuditPublisher.name);

  constructor(
    private readonly integrator: AuditIntegrator,
    private readonly config: AppConfig,
    @InjectQueue(QUEUES.audit) private readonly queue: Queue,
    @Inject(HOLDS_SIGNING_KEY) private readonly signs: boolean,
  ) {}

  onModuleInit(): void {
    if (!this.signs) return;
    this.integrator.onCheckpoint((checkpoint) => {
      const targets: AuditPublishJobData['target'][] = this.config.pipeline.webhooks.flatMap((hook, webhook) =>
        hook.events.includes('audit.checkpoint') ? [{ webhook }] : [],
      );
      if (this.config.pipeline.audit.publish) targets.push({ registry: true });
      if (targets.length === 0) return;
      const jobs = targets.map((target) => ({
        name: JOBS.auditPublish,
        data: { size: checkpoint.size, target } satisfies AuditPublishJobData,
        opts: {
          jobId: `checkpoint-${checkpoint.size}-${'webhook' in target ? `webhook-${target.webhook}` : 'registry'}`,
          attempts: 8,
          backoff: { type: 'exponential' as const, delay: 2_000 },
          removeOnComplete: { age: 3_600 },
          removeOnFail: { age: 86_400 },
        },
      }));
      this.queue
        .addBulk(jobs)
        .catch((err: Error) => this.logger.warn(`could not queue the copies of checkpoint ${checkpoint.size}: ${err.message}`));
    });
  }
}
