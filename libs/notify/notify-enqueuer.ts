import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { AppConfig, NOTIFY_EVENTS, type NotifyEvent } from '#libs/config/index.js';
import type { AuditEventEntity } from '#libs/db/index.js';
import { DECISIONS, PROMOTION_STATUSES } from '#libs/domain/index.js';
import { QUEUES } from '#libs/queue/index.js';
import { AuditService } from '#libs/workflow/index.js';
import { notifyJobOptions, NOTIFY_JOBS, type SlackJobData, type WebhookJobData } from './notify-jobs.js';

/** Changes that can alter what a promotion's Slack message shows. */
const SLACK_ACTIONS: ReadonlySet<string> = new Set([
  ...PROMOTION_STATUSES.map((s) => `promotion.${s}`),
  ...DECISIONS.flatMap((d) => [`approval.${d}`, `review.${d}`]),
]);
/** Events whose webhooks their own notify job delivers (scan.new_findings: the `scan-new-findings` job). */
const OWN_JOB_EVENTS: ReadonlySet<string> = new Set(['scan.new_findings']);

/**
 * Turns committed promotion changes into notify jobs. It runs after the commit and never waits
 * for Redis: a lost job costs a late message (the next change re-renders the whole state),
 * never a promotion.
 */
@Injectable()
export class NotifyEnqueuer implements OnModuleInit {
  private readonly logger = new Logger(NotifyEnqueuer.name);

  constructor(
    private readonly audit: AuditService,
    private readonly config: AppConfig,
    @InjectQueue(QUEUES.notify) private readonly queue: Queue,
  ) {}

  onModuleInit(): void {
    if (!this.config.pipeline.slack && this.config.pipeline.webhooks.length === 0) return;
    this.audit.onCommit((events) => this.committed(events));
  }

  private committed(events: readonly AuditEventEntity[]): void {
    const byPromotion = new Map<string, AuditEventEntity[]>();
    for (const e of events) {
      if (!e.subject.startsWith('promotion:')) continue;
      const id = e.subject.slice('promotion:'.length);
      byPromotion.set(id, [...(byPromotion.get(id) ?? []), e]);
    }
    for (const [promotionId, list] of byPromotion) {
      const jobs = this.jobsFor(promotionId, list);
      if (jobs.length === 0) continue;
      this.queue.addBulk(jobs).catch((err: Error) => {
        this.logger.warn(`could not queue notifications for promotion ${promotionId}: ${err.message}`);
      });
    }
  }

  private jobsFor(promotionId: string, events: AuditEventEntity[]): Parameters<Queue['addBulk']>[0] {
    const jobs: Parameters<Queue['addBulk']>[0] = [];
    const slackEvents = events.filter((e) => SLACK_ACTIONS.has(e.action));
    if (this.config.pipeline.slack && slackEvents.length > 0) {
      const data: SlackJobData = { promotionId, events: slackEvents.map((e) => e.action) };
      jobs.push({
        name: NOTIFY_JOBS.slack,
        data,
        opts: { ...notifyJobOptions(this.config.pipeline.worker), jobId: `slack-${slackEvents[0]!.id}` },
      });
    }
    this.config.pipeline.webhooks.forEach((hook, index) => {
      for (const e of events) {
        if (!isNotifyEvent(e.action) || OWN_JOB_EVENTS.has(e.action) || !hook.events.includes(e.action)) continue;
        const data: WebhookJobData = { promotionId, event: e.action, eventId: e.id, at: e.at.toISOString(), webhook: index };
        jobs.push({
          name: NOTIFY_JOBS.webhook,
          data,
          opts: { ...notifyJobOptions(this.config.pipeline.worker), jobId: `webhook-${index}-${e.id}` },
        });
      }
    });
    return jobs;
  }
}

function isNotifyEvent(action: string): action is NotifyEvent {
  return (NOTIFY_EVENTS as readonly string[]).includes(action);
}
