import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { personOf, type Principal } from '#libs/auth/index.js';
import { ApprovalEntity, PromotionEntity, ReviewEntity } from '#libs/db/index.js';
import { checkApprover, checkReviewer, PromotionError, type ApprovalRule, type Bound, type Decision } from '#libs/domain/index.js';
import { AuditService } from './audit.service.js';
import { FollowUpService } from './follow-up.service.js';
import { approvalRule, PromotionStateService } from './promotion-state.service.js';
import { PromotionService } from './promotion.service.js';
import type { PromotionView } from './promotion.view.js';

export type Channel = 'api' | 'cli' | 'slack';

export interface DecisionInput {
  decision: Decision;
  comment: string;
  /** The evidence digest the decider saw; when given, it must still be the promotion's. */
  evidenceDigest?: string;
}

export interface ReviewInput {
  kind: string;
  verdict: Decision;
  notes: string;
  evidenceDigest?: string;
}

/**
 * The approval rule counts persons, whatever credential they came with: two tokens owned by
 * alice@example.com, her SSO session and her Slack user (by its verified e-mail) are one approver,
 * and none of them may approve what she requested.
 */
function asPerson(who: Principal): { id: string; roles: readonly string[] } {
  return { id: personOf(who), roles: who.roles };
}

interface Deciding {
  manager: EntityManager;
  promotion: PromotionEntity;
  rule: ApprovalRule;
  bound: Bound;
}

/**
 * Approvals and reviews, from any channel, under one rule. The promotion row is locked for the
 * whole decision, so concurrent approvals count each approver once and move the promotion once.
 */
@Injectable()
export class ApprovalService {
  constructor(
    private readonly state: PromotionStateService,
    private readonly promotions: PromotionService,
    private readonly audit: AuditService,
    private readonly followUp: FollowUpService,
  ) {}

  decide(who: Principal, id: string, input: DecisionInput, channel: Channel): Promise<PromotionView> {
    return this.decideOn(who, id, input.evidenceDigest, async ({ manager, promotion, rule, bound }) => {
      const existing = await manager.find(ApprovalEntity, { where: { promotionId: id } });
      const records = existing.map((a) => ({
        approverId: a.approverPerson,
        decision: a.decision,
        digest: a.digest,
        evidenceDigest: a.evidenceDigest,
        at: a.createdAt,
      }));
      checkApprover(rule, promotion.requestedByPerson, asPerson(who), records, bound);
      const approval = Object.assign(new ApprovalEntity(), {
        id: randomUUID(),
        promotionId: id,
        approverId: who.id,
        approverName: who.name,
        approverPerson: personOf(who),
        decision: input.decision,
        comment: input.comment,
        channel,
        digest: bound.digest,
        evidenceDigest: bound.evidenceDigest,
        createdAt: bound.now,
      });
      await manager.insert(ApprovalEntity, approval);
      await this.audit.append(manager, who, {
        action: `approval.${input.decision}`,
        subject: `promotion:${id}`,
        data: { approvalId: approval.id, comment: input.comment, via: channel, digest: bound.digest, evidenceDigest: bound.evidenceDigest },
      });
    });
  }

  review(who: Principal, id: string, input: ReviewInput, channel: Channel): Promise<PromotionView> {
    return this.decideOn(who, id, input.evidenceDigest, async ({ manager, promotion, rule, bound }) => {
      const existing = await manager.find(ReviewEntity, { where: { promotionId: id } });
      const records = existing.map((r) => ({
        reviewerId: r.reviewerPerson,
        kind: r.kind,
        verdict: r.verdict,
        digest: r.digest,
        evidenceDigest: r.evidenceDigest,
        at: r.createdAt,
      }));
      checkReviewer(rule, promotion.requestedByPerson, asPerson(who), input.kind, records, bound);
      const review = Object.assign(new ReviewEntity(), {
        id: randomUUID(),
        promotionId: id,
        reviewerId: who.id,
        reviewerName: who.name,
        reviewerPerson: personOf(who),
        kind: input.kind,
        verdict: input.verdict,
        notes: input.notes,
        channel,
        digest: bound.digest,
        evidenceDigest: bound.evidenceDigest,
        createdAt: bound.now,
      });
      await manager.insert(ReviewEntity, review);
      await this.audit.append(manager, who, {
        action: `review.${input.verdict}`,
        subject: `promotion:${id}`,
        data: {
          reviewId: review.id,
          kind: input.kind,
          notes: input.notes,
          via: channel,
          digest: bound.digest,
          evidenceDigest: bound.evidenceDigest,
        },
      });
    });
  }

  /** Locks the promotion, checks it awaits approval, records the decision, and settles. */
  private async decideOn(
    who: Principal,
    id: string,
    seen: string | undefined,
    record: (deciding: Deciding) => Promise<void>,
  ): Promise<PromotionView> {
    const view = await this.audit.transaction(async (manager) => {
      const promotion = await this.state.lock(manager, id);
      if (promotion.status !== 'awaiting_approval') {
        throw new PromotionError(
          'not_awaiting_approval',
          `the promotion is ${promotion.status}; decisions are taken only while it awaits approval`,
          {
            status: promotion.status,
          },
        );
      }
      // Checked under the lock: a re-evaluation cannot slip in between the check and the decision.
      if (seen !== undefined && seen !== promotion.evidenceDigest) {
        throw new PromotionError(
          'evidence_changed',
          `the evidence changed since you looked: you saw ${seen}, the promotion now awaits a decision on ${promotion.evidenceDigest} (round ${promotion.round}); look at the gates again`,
          { seen, current: promotion.evidenceDigest, round: promotion.round },
        );
      }
      const rule = approvalRule(this.state.environmentOf(promotion));
      const bound = { digest: promotion.digest, evidenceDigest: promotion.evidenceDigest ?? '', now: new Date() };
      await record({ manager, promotion, rule, bound });
      await this.state.settle(manager, promotion, who);
      return this.promotions.view(manager, promotion);
    });
    await this.followUp.after(view);
    return view;
  }
}
