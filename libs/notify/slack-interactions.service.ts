import { Inject, Injectable, Logger, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { z } from 'zod';
import type { Principal } from '#libs/auth/index.js';
import { AppConfig, type SlackPrincipalConfig } from '#libs/config/index.js';
import { personKey, PromotionError, ServiceError, type Decision } from '#libs/domain/index.js';
import { ApprovalService, PromotionService, type PromotionView } from '#libs/workflow/index.js';
import { SlackApi } from './slack-api.js';
import { APPROVE_ACTION, decodeButtonValue, REJECT_ACTION, shortDigest } from './slack-message.js';
import { verifySlackSignature } from './slack-signature.js';

const blockActionsSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string().min(1).max(40) }),
  response_url: z.string().url().optional(),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().max(2000).optional() })).min(1),
});

export interface SlackClick {
  userId: string;
  responseUrl: string | null;
  decision: Decision;
  value: string;
}

/** Why a click changed nothing, or what it recorded: the text of the ephemeral reply. */
export interface ClickOutcome {
  accepted: boolean;
  reply: string;
}

/**
 * Approve and Reject buttons. The request is authenticated by Slack's signature (it cannot carry
 * our API tokens); the clicking user must map to a principal, and the decision then goes through
 * ApprovalService exactly as a REST approval does, recorded with channel `slack`.
 */
@Injectable()
export class SlackInteractionsService implements OnApplicationShutdown {
  private readonly logger = new Logger(SlackInteractionsService.name);
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly config: AppConfig,
    private readonly approvals: ApprovalService,
    private readonly promotions: PromotionService,
    @Optional() @Inject(SlackApi) private readonly slack: SlackApi | null,
  ) {}

  get enabled(): boolean {
    return this.config.notifySecrets.slack !== null && this.slack !== null;
  }

  /**
   * Checks the signature over the raw bytes before anything else, then parses the click. Returns
   * null for payloads that are not a button of ours (Slack expects a 200 for those too).
   */
  authenticate(rawBody: Buffer, timestamp: string | undefined, signature: string | undefined): SlackClick | null {
    const secrets = this.config.notifySecrets.slack;
    if (!secrets) throw new ServiceError('not_found', 'Slack is not configured on this promoter');
    const check = verifySlackSignature({ signingSecret: secrets.signingSecret, timestamp, signature, rawBody });
    if (!check.ok) throw new ServiceError('unauthorized', check.reason);
    const form = new URLSearchParams(rawBody.toString('utf8'));
    const payloadText = form.get('payload');
    if (payloadText === null) throw new ServiceError('bad_request', 'the body has no payload field');
    let payload: unknown;
    try {
      payload = JSON.parse(payloadText);
    } catch {
      throw new ServiceError('bad_request', 'payload is not JSON');
    }
    const parsed = blockActionsSchema.safeParse(payload);
    if (!parsed.success) return null;
    const action = parsed.data.actions.find((a) => a.action_id === APPROVE_ACTION || a.action_id === REJECT_ACTION);
    if (!action) return null;
    return {
      userId: parsed.data.user.id,
      responseUrl: parsed.data.response_url ?? null,
      decision: action.action_id === APPROVE_ACTION ? 'approve' : 'reject',
      value: action.value ?? '',
    };
  }

  /**
   * Handles a click after Slack has had its 200 (Slack wants one within 3 s; a users.info lookup or
   * a busy database must not make it retry the click). The outcome goes back as an ephemeral reply.
   */
  dispatch(click: SlackClick): void {
    const work = this.handle(click)
      .then((outcome) => this.reply(click, outcome.reply))
      .catch((err: Error) => this.logger.warn(`Slack click by ${click.userId}: ${err.message}`))
      .finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
  }

  async handle(click: SlackClick): Promise<ClickOutcome> {
    const refuse = (reply: string): ClickOutcome => ({ accepted: false, reply });
    const value = decodeButtonValue(click.value);
    if (!value) return refuse('This button does not name a promotion; nothing was recorded.');
    const who = await this.principalOf(click.userId);
    if (!who) {
      return refuse(
        `Your Slack account (${click.userId}) is not mapped to a promoter principal, so you cannot decide here. Ask an admin to add it under slack.users.`,
      );
    }
    let view: PromotionView;
    try {
      view = await this.promotions.get(value.promotionId);
    } catch (err) {
      if (err instanceof ServiceError && err.code === 'not_found') return refuse('That promotion no longer exists; nothing was recorded.');
      throw err;
    }
    if (view.status !== 'awaiting_approval')
      return refuse(
        `This promotion is ${view.status.replace('_', ' ')}; decisions are taken only while it awaits approval. Nothing was recorded.`,
      );
    if (value.digest !== view.digest || (value.evidenceDigest !== null && value.evidenceDigest !== view.evidenceDigest)) {
      return refuse(
        `This message is stale: it shows digest ${shortDigest(value.digest)} with older gate results, and the promotion now awaits approval of ${shortDigest(view.digest)} on new evidence. Nothing was recorded; use the updated message.`,
      );
    }
    // Self-approval and a second decision (through any channel: the rule counts people by name) are
    // the approval rule's to refuse; the reply only says it in Slack's words.
    try {
      const after = await this.approvals.decide(
        who,
        value.promotionId,
        { decision: click.decision, comment: 'from Slack', ...(value.evidenceDigest ? { evidenceDigest: value.evidenceDigest } : {}) },
        'slack',
      );
      const state =
        after.status === 'awaiting_approval'
          ? `${after.approval.needed} more approval(s) needed`
          : `the promotion is now ${after.status.replace('_', ' ')}`;
      return {
        accepted: true,
        reply: `Recorded your ${click.decision === 'approve' ? 'approval' : 'rejection'} as ${who.person}; ${state}.`,
      };
    } catch (err) {
      if (err instanceof PromotionError) return refuse(refusal(err, who, view));
      if (err instanceof ServiceError) return refuse(`${err.message}. Nothing was recorded.`);
      throw err;
    }
  }

  /**
   * Roles by Slack user id, else (when enabled) by the user's e-mail address from users.info. The
   * person is the user's verified e-mail address whenever Slack gives one, so a Slack user and the
   * same person's tokens and SSO session are one approver; without one, the configured principal.
   */
  private async principalOf(userId: string): Promise<Principal | null> {
    const slack = this.config.pipeline.slack!;
    let mapping: SlackPrincipalConfig | undefined = Object.hasOwn(slack.users, userId) ? slack.users[userId] : undefined;
    const email = this.slack
      ? await this.slack.userEmail(userId).catch((err: Error) => {
          this.logger.warn(`users.info for ${userId}: ${err.message}`);
          return null;
        })
      : null;
    if (!mapping && slack.lookupByEmail && email) {
      // E-mail addresses compare without case; the config may spell them either way.
      const key = Object.keys(slack.users).find((k) => k.includes('@') && k.toLowerCase() === email);
      if (key) mapping = slack.users[key];
    }
    if (!mapping) return null;
    return {
      id: `slack:${userId}`,
      name: mapping.principal,
      roles: mapping.roles,
      kind: 'person',
      person: personKey(email ?? mapping.principal),
      credential: 'slack',
    };
  }

  private async reply(click: SlackClick, text: string): Promise<void> {
    if (!click.responseUrl || !this.slack) return;
    await this.slack.respond(click.responseUrl, text);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}

function refusal(err: PromotionError, who: Principal, view: PromotionView): string {
  switch (err.code) {
    case 'self_approval':
      return 'You requested this promotion; someone else has to decide on it. Nothing was recorded.';
    case 'role_not_allowed':
      return `You do not hold a role that may decide here (${err.message.replace(/^approving here needs /, 'it needs ')}). Nothing was recorded.`;
    case 'duplicate_decision': {
      const elsewhere = view.approvals.some((a) => a.counts && a.approver.person === who.person && a.via !== 'slack');
      return elsewhere
        ? `You have already decided on this promotion as ${who.person} through the API or the CLI; your decision counts once. Nothing more was recorded.`
        : 'You have already decided on this promotion; your decision counts once. Nothing more was recorded.';
    }
    case 'not_awaiting_approval':
      return `${err.message}. Nothing was recorded.`;
    case 'evidence_changed':
      return 'This message is stale: the gate results changed after it was posted. Nothing was recorded; use the updated message.';
    default:
      return `${err.message}. Nothing was recorded.`;
  }
}
