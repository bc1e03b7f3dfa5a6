import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Principal } from '#libs/auth/index.js';
import { AppConfig, type EnvironmentConfig } from '#libs/config/index.js';
import { ApprovalEntity, GateResultEntity, PromotionEntity, ReviewEntity } from '#libs/db/index.js';
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
} from '#libs/domain/index.js';
import { AuditService, type AuditInput } from './audit.service.js';
import type { PromotionProgress } from './copy-progress.js';
import { readPromotion } from './promotion-reader.js';
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
  /** The copy's progress, once one has started (read with the promotion; never written through it). */
  progress?: PromotionProgress | null;
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
    const stored = await readPromotion(manager, promotion.id);
    return {
      promotion,
      gates: stored?.gates ?? [],
      approvals: stored?.approvals ?? [],
      reviews: stored?.reviews ?? [],
      progress: stored?.progress ?? null,
    };
  }

  async move(
    manager: EntityManager,
    promotion: PromotionEntity,
    event: PromotionEvent,
    actor: Principal | string,
    data: Record<string, unknown> = {},
    changes: Partial<PromotionEntity> = {},
    opts: { approvalsStand?: boolean } = {},
  ): Promise<PromotionStatus> {
    const written = this.transit(promotion, event, data, changes, opts);
    await this.persist(manager, promotion, written, actor);
    return promotion.status;
  }

  /** One move, in memory: the domain decides it; the audit event it owes is returned, not written. */
  private transit(
    promotion: PromotionEntity,
    event: PromotionEvent,
    data: Record<string, unknown>,
    changes: Partial<PromotionEntity>,
    opts: { approvalsStand?: boolean } = {},
  ): Transit {
    const from = promotion.status;
    const env = this.config.environment(promotion.target);
    const approvalRequired = env ? env.approvals.required > 0 || env.reviews.length > 0 : true;
    const to = nextStatus(from, event, { approvalRequired, ...opts });
    Object.assign(promotion, changes, { status: to, updatedAt: new Date() });
    promotionTransitions.inc({ to });
    return {
      changes: Object.keys(changes),
      audit: {
        action: `promotion.${to}`,
        subject: `promotion:${promotion.id}`,
        data: { from, to, event, digest: promotion.digest, ...data },
      },
    };
  }

  /** Writes a run of moves: one UPDATE with the promotion's final state, and their audit events. */
  private async persist(
    manager: EntityManager,
    promotion: PromotionEntity,
    moves: Transit | Transit[],
    actor: Principal | string,
  ): Promise<void> {
    const list = Array.isArray(moves) ? moves : [moves];
    if (list.length === 0) return;
    const changed = new Set(list.flatMap((m) => m.changes));
    const update: Partial<PromotionEntity> = { status: promotion.status, updatedAt: promotion.updatedAt };
    for (const key of changed) Object.assign(update, { [key]: promotion[key as keyof PromotionEntity] });
    await manager.update(PromotionEntity, { id: promotion.id }, update);
    await this.audit.append(
      manager,
      actor,
      list.map((m) => m.audit),
    );
  }

  tally(record: PromotionRecord, now = new Date()): ApprovalTally {
    const { promotion } = record;
    return tallyApprovals(
      approvalRule(this.environmentOf(promotion)),
      // Counted by person, as ApprovalService checks them: one person, one vote, any channel.
      record.approvals.map((a) => ({
        approverId: a.approverPerson,
        decision: a.decision,
        digest: a.digest,
        evidenceDigest: a.evidenceDigest,
        at: a.createdAt,
      })),
      record.reviews.map((r) => ({
        reviewerId: r.reviewerPerson,
        kind: r.kind,
        verdict: r.verdict,
        digest: r.digest,
        evidenceDigest: r.evidenceDigest,
        at: r.createdAt,
      })),
      { digest: promotion.digest, evidenceDigest: promotion.evidenceDigest ?? '', now },
    );
  }

  /**
   * Moves a promotion as far as its gate results and approvals allow: into evaluation, then to
   * blocked, or to awaiting approval (with its evidence digest fixed), then to approved or rejected.
   * `known` spares the queries when the caller already holds the promotion's records; `unsaved`
   * is for a promotion not yet inserted, which the caller then writes in its final state.
   */
  async settle(
    manager: EntityManager,
    promotion: PromotionEntity,
    actor: Principal | string,
    known?: Omit<PromotionRecord, 'promotion'>,
    options: { unsaved?: boolean } = {},
  ): Promise<void> {
    const moves: Transit[] = [];
    if (promotion.status === 'pending') moves.push(this.transit(promotion, 'start_evaluation', {}, {}));
    if (promotion.status === 'evaluating') {
      const gates = known?.gates ?? (await manager.find(GateResultEntity, { where: { promotionId: promotion.id } }));
      const outcomes = gates.map((g) => ({ gate: g.gate, status: g.status as GateStatus, evidenceDigest: g.evidenceDigest }));
      const verdict = gatesVerdict(outcomes);
      if (verdict === 'failed') {
        const failing = gates.filter((g) => g.status === 'failed' || g.status === 'error').map((g) => g.gate);
        // A blocked promotion waits for a re-evaluation (a waiver, a fixed rule) as long as one awaiting
        // approval would wait for approvers; then the reconciler expires it and frees its digest.
        const env = this.environmentOf(promotion);
        moves.push(
          this.transit(promotion, 'gates_failed', { gates: failing }, { expiresAt: new Date(Date.now() + env.approvals.timeoutMs) }),
        );
      } else if (verdict === 'passed') {
        const env = this.environmentOf(promotion);
        moves.push(
          this.transit(
            promotion,
            'gates_passed',
            {},
            {
              evidenceDigest: evidenceDigest(outcomes),
              expiresAt: new Date(Date.now() + env.approvals.timeoutMs),
            },
          ),
        );
      }
    }
    if (promotion.status === 'awaiting_approval') {
      const record = known ? { promotion, ...known } : await this.load(manager, promotion);
      const tally = this.tally(record);
      if (tally.decision === 'approved') moves.push(this.transit(promotion, 'approved', { approvers: tally.approvers }, {}));
      else if (tally.decision === 'rejected') moves.push(this.transit(promotion, 'rejected', { rejectedBy: tally.rejectedBy }, {}));
    }
    if (options.unsaved)
      await this.audit.append(
        manager,
        actor,
        moves.map((m) => m.audit),
      );
    else await this.persist(manager, promotion, moves, actor);
  }
}

interface Transit {
  changes: string[];
  audit: AuditInput;
}
