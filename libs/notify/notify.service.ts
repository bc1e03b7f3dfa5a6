import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { AppConfig } from '#libs/config/index.js';
import { ServiceError } from '#libs/domain/index.js';
import { QUEUES } from '#libs/queue/index.js';
import { PromotionService, type NewFindingsJobData, type PromotionView } from '#libs/workflow/index.js';
import { newFindingsMessage } from './new-findings-message.js';
import { newFindingsJobSchema, notifyJobOptions, NOTIFY_JOBS, type SlackJobData, type WebhookJobData } from './notify-jobs.js';
import { SlackApi } from './slack-api.js';
import { approvalMessage, eventMessage } from './slack-message.js';
import { postSignedWebhook } from './webhook-delivery.js';

/** A webhook answered with something a retry cannot change (a 4xx other than 408 and 429). */
const NEW_FINDINGS_EVENT = 'scan.new_findings';
/** A change younger than this may still have its own job on the way; catch-up leaves it alone. */
const CATCH_UP_GRACE = '30 seconds';
const CATCH_UP_BATCH = 500;

/** The notify queue's work: the Slack approval message and notices, and outgoing webhooks. */
@Injectable()
export class NotifyService {
  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly promotions: PromotionService,
    @InjectQueue(QUEUES.notify) private readonly queue: Queue,
    @Optional() @Inject(SlackApi) private readonly slack: SlackApi | null,
  ) {}

  /**
   * The database knows which messages are owed: promotions awaiting approval with no message, and
   * messages showing an older state than their promotion's. Queues a sync for each, so a lost
   * notify job (Redis away at the commit) costs a delay, not a message.
   */
  async catchUp(): Promise<number> {
    const channels = Object.keys(this.config.pipeline.slack?.channels ?? {});
    if (!this.slack || channels.length === 0) return 0;
    const owed: { id: string; updated: string }[] = await this.dataSource.query(
      `SELECT p.id, (extract(epoch FROM p.updated_at) * 1000)::bigint::text AS updated
         FROM promotions p LEFT JOIN slack_messages m ON m.promotion_id = p.id
        WHERE p.target = ANY($1) AND p.updated_at < now() - interval '${CATCH_UP_GRACE}'
          AND ((m.promotion_id IS NULL AND p.status = 'awaiting_approval') OR m.status <> p.status)
        ORDER BY p.seq LIMIT ${CATCH_UP_BATCH}`,
      [channels],
    );
    if (owed.length === 0) return 0;
    await this.queue.addBulk(
      owed.map(({ id, updated }) => {
        const data: SlackJobData = { promotionId: id, events: ['catch-up'] };
        return {
          name: NOTIFY_JOBS.slack,
          data,
          opts: { ...notifyJobOptions(this.config.pipeline.worker), jobId: `slack-catch-up-${id}-${updated}` },
        };
      }),
    );
    return owed.length;
  }

  /**
   * Brings the promotion's Slack message up to date. The first change that concerns approval posts
   * it; every later one updates it, rendered from the state as it is now (under a per-promotion
   * lock, so an older job cannot overwrite a newer rendering).
   */
  async syncSlack(job: SlackJobData): Promise<string> {
    const slackConfig = this.config.pipeline.slack;
    if (!slackConfig || !this.slack) return 'slack is not configured';
    const first = await this.current(job.promotionId);
    if (!first) return 'no such promotion';
    const channel = slackConfig.channels[first.target];
    if (!channel) return `no channel for ${first.target}`;
    const slack = this.slack;

    const outcome = await this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`slack-message:${job.promotionId}`]);
      const view = (await this.current(job.promotionId))!;
      const [row]: { channel: string; ts: string }[] = await manager.query(
        'SELECT channel, ts FROM slack_messages WHERE promotion_id = $1',
        [job.promotionId],
      );
      if (row) {
        await slack.update(row.channel, row.ts, approvalMessage(view));
        await manager.query('UPDATE slack_messages SET status = $2, updated_at = now() WHERE promotion_id = $1', [
          job.promotionId,
          view.status,
        ]);
        return { view, result: 'updated' };
      }
      const concernsApproval =
        view.status === 'awaiting_approval' ||
        job.events.some((e) => e === 'promotion.awaiting_approval' || /^(approval|review)\./.test(e));
      if (!concernsApproval) return { view, result: 'no approval message' };
      const posted = await slack.postMessage(channel, approvalMessage(view));
      await manager.query('INSERT INTO slack_messages (promotion_id, channel, ts, status) VALUES ($1, $2, $3, $4)', [
        job.promotionId,
        posted.channel,
        posted.ts,
        view.status,
      ]);
      return { view, result: 'posted' };
    });

    // Notices go last: a retry after a failed notice only updates the message again, which is harmless.
    const notices = (['blocked', 'promoted', 'failed'] as const).filter((n) => job.events.includes(`promotion.${n}`));
    for (const notice of notices) await slack.postMessage(channel, eventMessage(outcome.view, notice));
    return [outcome.result, ...notices.map((n) => `${n} notice`)].join(', ');
  }

  /**
   * New blocking findings on an image already promoted: queues a delivery for each webhook that
   * wants `scan.new_findings` (their own jobs, so one slow receiver or Slack retries nothing else),
   * then posts the notice to the environment's channel. Deliveries go first: their job ids make a
   * retry of this job queue nothing twice, while a Slack post would repeat.
   */
  async notifyNewFindings(notice: NewFindingsJobData): Promise<string> {
    const done: string[] = [];
    const hooks = this.config.pipeline.webhooks.flatMap((hook, index) => (hook.events.includes(NEW_FINDINGS_EVENT) ? [index] : []));
    if (hooks.length > 0) {
      // The audit event the scan watcher committed before queuing this job: its id is the delivery id.
      const [event]: { id: string; at: Date }[] = await this.dataSource.query(
        `SELECT id, at FROM audit_events WHERE action = $1 AND subject = $2 AND data->>'importId' = $3 ORDER BY at LIMIT 1`,
        [NEW_FINDINGS_EVENT, `promotion:${notice.promotionId}`, notice.importId],
      );
      if (event) {
        await this.queue.addBulk(
          hooks.map((webhook) => {
            const data: WebhookJobData = {
              promotionId: notice.promotionId,
              event: NEW_FINDINGS_EVENT,
              eventId: event.id,
              at: new Date(event.at).toISOString(),
              webhook,
            };
            return {
              name: NOTIFY_JOBS.webhook,
              data,
              opts: { ...notifyJobOptions(this.config.pipeline.worker), jobId: `webhook-${webhook}-${event.id}` },
            };
          }),
        );
        done.push(`${hooks.length} webhook deliver${hooks.length === 1 ? 'y' : 'ies'} queued`);
      } else {
        done.push('no scan.new_findings audit event for this import: no webhook delivery');
      }
    }
    const channel = this.config.pipeline.slack?.channels[notice.environment];
    if (this.slack && channel) {
      await this.slack.postMessage(channel, newFindingsMessage(notice));
      done.push('Slack notice posted');
    } else if (this.slack) {
      done.push(`no Slack channel for ${notice.environment}`);
    }
    return done.length > 0 ? done.join(', ') : 'neither Slack nor a webhook wants this notice';
  }

  /** POSTs one event to one webhook from the config, signed with its secret. */
  async deliverWebhook(job: WebhookJobData): Promise<string> {
    const hook = this.config.pipeline.webhooks[job.webhook];
    const secret = this.config.notifySecrets.webhooks[job.webhook];
    if (!hook || secret === undefined) return `webhook ${job.webhook} is no longer configured`;
    if (!hook.events.includes(job.event)) return `webhook ${job.webhook} no longer wants ${job.event}`;
    const view = await this.current(job.promotionId);
    if (!view) return 'no such promotion';
    let newFindings: NewFindingsJobData | undefined;
    if (job.event === NEW_FINDINGS_EVENT) {
      newFindings = await this.newFindingsOf(job.eventId);
      if (!newFindings) return `no readable ${NEW_FINDINGS_EVENT} event ${job.eventId}`;
    }
    const body = JSON.stringify({
      event: job.event,
      deliveryId: job.eventId,
      at: job.at,
      promotion: webhookPromotion(view),
      ...(newFindings ? { newFindings } : {}),
    });
    return postSignedWebhook({ url: hook.url, secret, event: job.event, deliveryId: job.eventId, body });
  }

  /** What a `scan.new_findings` delivery reports, from the audit record rather than from Redis. */
  private async newFindingsOf(eventId: string): Promise<NewFindingsJobData | undefined> {
    const [row]: { data: unknown }[] = await this.dataSource.query('SELECT data FROM audit_events WHERE id = $1 AND action = $2', [
      eventId,
      NEW_FINDINGS_EVENT,
    ]);
    const parsed = newFindingsJobSchema.safeParse(row?.data);
    return parsed.success ? parsed.data : undefined;
  }

  private async current(id: string): Promise<PromotionView | null> {
    try {
      return await this.promotions.get(id);
    } catch (err) {
      if (err instanceof ServiceError && err.code === 'not_found') return null;
      throw err;
    }
  }
}

/** What a webhook receives about the promotion: its state, gate results and approvals, no evidence blobs. */
function webhookPromotion(view: PromotionView) {
  const { gates, approvals, reviews, approval, ...summary } = view;
  return {
    ...summary,
    gates: gates.map((g) => ({ gate: g.gate, status: g.status, summary: g.summary, evidenceDigest: g.evidenceDigest })),
    approvals: approvals.map((a) => ({ approver: a.approver, decision: a.decision, via: a.via, at: a.at, counts: a.counts })),
    reviews: reviews.map((r) => ({ reviewer: r.reviewer, kind: r.kind, verdict: r.verdict, via: r.via, at: r.at, counts: r.counts })),
    approval,
  };
}
