import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import { AppConfig } from '#libs/config/index.js';
import {
  newFindingsJobSchema,
  NOTIFY_JOBS,
  NotifyService,
  SlackApiError,
  slackJobSchema,
  WebhookRefused,
  webhookJobSchema,
} from '#libs/notify/index.js';
import { QUEUES } from '#libs/queue/index.js';
import { Schedules } from './schedules.js';

/**
 * Slack messages and webhooks. A failure here is retried with backoff and, in the end, dropped:
 * notifications never feed back into a promotion.
 */
@Processor(QUEUES.notify)
export class NotifyProcessor extends WorkerHost implements OnApplicationBootstrap {
  constructor(
    private readonly notify: NotifyService,
    private readonly config: AppConfig,
    @InjectQueue(QUEUES.notify) private readonly queue: Queue,
    private readonly schedules: Schedules,
  ) {
    super();
  }

  /** The Slack catch-up runs at the reconciler's pace; one schedule however many workers run, put back if Redis lost it. */
  async onApplicationBootstrap(): Promise<void> {
    this.worker.concurrency = this.config.pipeline.worker.concurrency.notify;
    if (!this.config.pipeline.slack) return;
    await this.schedules.keep(this.queue, NOTIFY_JOBS.catchUp, this.config.process.reconcileIntervalMs, {
      name: NOTIFY_JOBS.catchUp,
      opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } },
    });
  }

  async process(job: Job<unknown>): Promise<string> {
    try {
      switch (job.name) {
        case NOTIFY_JOBS.slack: {
          const parsed = slackJobSchema.safeParse(job.data);
          if (!parsed.success) throw new UnrecoverableError(`malformed notify job ${job.id}: ${parsed.error.message}`);
          return await this.notify.syncSlack(parsed.data);
        }
        case NOTIFY_JOBS.webhook: {
          const parsed = webhookJobSchema.safeParse(job.data);
          if (!parsed.success) throw new UnrecoverableError(`malformed notify job ${job.id}: ${parsed.error.message}`);
          return await this.notify.deliverWebhook(parsed.data);
        }
        case NOTIFY_JOBS.newFindings: {
          const parsed = newFindingsJobSchema.safeParse(job.data);
          if (!parsed.success) throw new UnrecoverableError(`malformed notify job ${job.id}: ${parsed.error.message}`);
          return await this.notify.notifyNewFindings(parsed.data);
        }
        case NOTIFY_JOBS.catchUp:
          return `queued ${await this.notify.catchUp()} Slack message sync(s)`;
        default:
          throw new UnrecoverableError(`no handler for job '${job.name}' on the notify queue`);
      }
    } catch (err) {
      // A revoked token or a missing channel stays so however often we ask.
      if ((err instanceof SlackApiError && err.permanent) || err instanceof WebhookRefused) throw new UnrecoverableError(err.message);
      throw err;
    }
  }
}
