import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Principal } from '../auth/index.js';
import { AppConfig, type EnvironmentConfig } from '../config/index.js';
import { ApprovalEntity, GateResultEntity, PromotionEntity, ReviewEntity } from '../db/index.js';
import {
  evidenceDigest,
  gatesVerdict,
  nextStatus,
  ServiceError,
  tallyApprovals,
  type ApprovalRule,
  type ApprovalTally,
  type GateStatus,
  type PromotionEvent,
  type PromotionStatus,
} from '../domain/index.js';
import { AuditService } from './audit.service.js';
import { promotionTransitions } from './metrics.js';

export function approvalRule(env: EnvironmentConfig): ApprovalRule {
  return {
    required: env.approvals.required,
    roles: env.approvals.roles,
    expiresAfterMs: env.approvals.expiresAfterMs,
    reviews: env.reviews,
  };
}

export interface PromotionRecord {
  promotion: PromotionEntity;
  gates: GateResultEntity[];
  approvals: ApprovalEntity[];
  reviews: ReviewEntity[];
}

/**
 * The one place that changes a promotion's status: the domain decides whether the move is
 * allowed, and each move is audited in the transaction that makes it.
 */
@Injectable()
export class PromotionStateService {
  constructor(
    private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  environmentOf(promotion: PromotionEntity): EnvironmentConfig {
    const env = this.config.environment(promotion.target);
    if (!env) throw new ServiceError('unprocessable', `environment '${promotion.target}' is no longer in the pipeline file`);
    return env;
  }

  /** Loads a promotion and locks it for the rest of the transaction. */
  async lock(manager: EntityManager, id: string): Promise<PromotionEntity> {
    const promotion = await manager.findOne(PromotionEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
    if (!promotion) throw new ServiceError('not_found', `no promotion ${id}`);
    return promotion;
  }

  async load(manager: EntityManager, promotion: PromotionEntity): Promise<PromotionRecord> {
    const where = { promotionId: promotion.id };
    // One connection carries the transaction, so these run one after another.
    const gates = await manager.find(GateResultEntity, { where, order: { gate: 'ASC' } });
    const approvals = await manager.find(ApprovalEntity, { where, order: { createdAt: 'ASC' } });
    const reviews = await manager.find(ReviewEntity, { where, order: { createdAt: 'ASC' } });
    return { promotion, gates, approvals, reviews };
  }

  async move(
    manager: EntityManager,
    promotion: PromotionEntity,
    event: PromotionEvent,
    actor: Principal | string,
    data: Record<string, unknown> = {},
    changes: Partial<PromotionEntity> = {},
  ): Promise<PromotionStatus> {
    const from = promotion.status as PromotionStatus;
    const env = this.config.environment(promotion.target);
    const approvalRequired = env ? env.approvals.required > 0 || env.reviews.length > 0 : true;
    const to = nextStatus(from, event, { approvalRequired });
    Object.assign(promotion, changes, { status: to, updatedAt: new Date() });
    await manager.update(PromotionEntity, { id: promotion.id }, { ...changes, status: to, updatedAt: promotion.updatedAt });
    await this.audit.append(manager, actor, {
      action: `promotion.${to}`,
      subject: `promotion:${promotion.id}`,
      data: { from, to, event, digest: promotion.digest, ...data },
    });
    promotionTransitions.inc({ to });
    return to;
  }

  tally(record: PromotionRecord, now = new Date()): ApprovalTally {
    const { promotion } = record;
    return tallyApprovals(
      approvalRule(this.environmentOf(promotion)),
      record.approvals.map((a) => ({ approverId: a.approverId, decision: a.decision, digest: a.digest, evidenceDigest: a.evidenceDigest, at: a.createdAt })),
      record.reviews.map((r) => ({ reviewerId: r.reviewerId, kind: r.kind, verdict: r.verdict, digest: r.digest, evidenceDigest: r.evidenceDigest, at: r.createdAt })),
      { digest: promotion.digest, evidenceDigest: promotion.evidenceDigest ?? '', now },
    );
  }

  /**
   * Moves a promotion as far as its gate results and approvals allow: into evaluation, then to
   * blocked, or to awaiting approval (with its evidence digest fixed), then to approved or rejected.
   */
  async settle(manager: EntityManager, promotion: PromotionEntity, actor: Principal | string): Promise<void> {
    if (promotion.status === 'pending') await this.move(manager, promotion, 'start_evaluation', actor);
    if (promotion.status === 'evaluating') {
      const gates = await manager.find(GateResultEntity, { where: { promotionId: promotion.id } });
      const outcomes = gates.map((g) => ({ gate: g.gate, status: g.status as GateStatus, evidenceDigest: g.evidenceDigest }));
      const verdict = gatesVerdict(outcomes);
      if (verdict === 'pending') return;
      if (verdict === 'failed') {
        const failing = gates.filter((g) => g.status === 'failed' || g.status === 'error').map((g) => g.gate);
        await this.move(manager, promotion, 'gates_failed', actor, { gates: failing });
        return;
      }
      const env = this.environmentOf(promotion);
      await this.move(manager, promotion, 'gates_passed', actor, {}, {
        evidenceDigest: evidenceDigest(outcomes),
        expiresAt: new Date(Date.now() + env.approvals.timeoutMs),
      });
    }
    if (promotion.status === 'awaiting_approval') {
      const tally = this.tally(await this.load(manager, promotion));
      if (tally.decision === 'approved') await this.move(manager, promotion, 'approved', actor, { approvers: tally.approvers });
      else if (tally.decision === 'rejected') await this.move(manager, promotion, 'rejected', actor, { rejectedBy: tally.rejectedBy });
    }
  }
}
