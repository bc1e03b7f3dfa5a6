import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { GateType } from '#libs/config/index.js';
import { STATUS_GROUPS, SYSTEM_ACTORS, isExpirable, owedWork, type PromotionStatus } from '#libs/domain/index.js';
import { JobQueues } from '#libs/queue/index.js';
import { AuditService } from './audit.service.js';
import { PromotionStateService } from './promotion-state.service.js';

export interface ReconcileReport {
  /** Gate evaluations really put on a queue again (not those still waiting or running). */
  requeued: number;
  /** Copies of approved (or interrupted) promotions really put on the queue again. */
  copies: number;
  settled: number;
  expired: number;
}

const BATCH = 500;

/** A status group as an SQL list; the statuses are our own constants (`[a-z_]+`), never input. */
function sqlList(statuses: readonly PromotionStatus[]): string {
  return statuses.map((s) => `'${s}'`).join(', ');
}

const OWES_GATES = sqlList(STATUS_GROUPS.owesGates);
const OWES_COPY = sqlList(STATUS_GROUPS.owesCopy);
const EXPIRABLE = sqlList(STATUS_GROUPS.expirable);
const RECONCILER = SYSTEM_ACTORS.reconciler;

/**
 * PostgreSQL says what work is owed; Redis only carries requests for it. This puts back on the
 * queues whatever the database says is owed (a flushed Redis loses nothing), and expires
 * promotions that waited for approval, or stayed blocked, too long. Safe to run any number of times.
 */
@Injectable()
export class ReconcilerService {
  private readonly logger = new Logger(ReconcilerService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly queues: JobQueues,
    private readonly state: PromotionStateService,
    private readonly audit: AuditService,
  ) {}

  async run(): Promise<ReconcileReport> {
    const report: ReconcileReport = { requeued: 0, copies: 0, settled: 0, expired: 0 };
    const owed: { id: string; round: number; gates: GateType[] }[] = await this.dataSource.query(
      `SELECT p.id, p.round, array_agg(g.gate ORDER BY g.gate) AS gates
         FROM promotions p JOIN gate_results g ON g.promotion_id = p.id AND g.round = p.round AND g.status = 'pending'
        WHERE p.status IN (${OWES_GATES})
        GROUP BY p.id, p.round, p.seq ORDER BY p.seq LIMIT $1`,
      [BATCH],
    );
    for (const row of owed) {
      report.requeued += await this.queues.enqueueGates(row.id, row.round, row.gates);
    }

    // Approved, or cut off half-way through the copy: the copy is idempotent, so queue it again.
    const copies: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM promotions WHERE status IN (${OWES_COPY}) ORDER BY seq LIMIT $1`,
      [BATCH],
    );
    for (const { id } of copies) if (await this.queues.enqueuePromote(id)) report.copies += 1;

    // Decided gates whose promotion did not move on (a crash between the two cannot happen in one
    // transaction, but a pipeline edit that dropped a gate can leave one waiting).
    const unsettled: { id: string }[] = await this.dataSource.query(
      `SELECT p.id FROM promotions p
        WHERE p.status IN (${OWES_GATES})
          AND NOT EXISTS (SELECT 1 FROM gate_results g WHERE g.promotion_id = p.id AND g.status = 'pending')
        ORDER BY p.seq LIMIT $1`,
      [BATCH],
    );
    for (const { id } of unsettled) {
      await this.audit.transaction(async (manager) => {
        const promotion = await this.state.lock(manager, id);
        if (owedWork(promotion.status) !== 'gates') return;
        await this.state.settle(manager, promotion, RECONCILER);
        report.settled += 1;
      });
    }

    const overdue: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM promotions WHERE status IN (${EXPIRABLE}) AND expires_at < now() ORDER BY seq LIMIT $1`,
      [BATCH],
    );
    for (const { id } of overdue) {
      await this.audit.transaction(async (manager) => {
        const promotion = await this.state.lock(manager, id);
        if (!isExpirable(promotion.status)) return;
        if (!promotion.expiresAt || promotion.expiresAt > new Date()) return;
        await this.state.move(manager, promotion, 'expire', RECONCILER, { expiresAt: promotion.expiresAt.toISOString() });
        report.expired += 1;
      });
    }
    if (report.requeued + report.copies + report.settled + report.expired > 0) this.logger.log(`reconciled: ${JSON.stringify(report)}`);
    return report;
  }
}
