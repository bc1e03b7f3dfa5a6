import { Processor, WorkerHost } from '@nestjs/bullmq';
import { UnrecoverableError, type Job } from 'bullmq';
import { NOTIFY_JOBS, NotifyService, SlackApiError, slackJobSchema, WebhookRefused, webhookJobSchema } from '../../../../libs/notify/index.js';
import { QUEUES } from '../../../../libs/queue/index.js';

/**
 * Slack messages and webhooks. A failure here is retried with backoff and, in the end, dropped:
 * notifications never feed back into a promotion.
 */
@Processor(QUEUES.notify, { concurrency: 4 })
export class NotifyProcessor extends WorkerHost {
  constructor(private readonly notify: NotifyService) {
    super();
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
