import { Inject, Injectable, Optional } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { gateDeadlineMs, type EnvironmentConfig, type GateType } from '#libs/config/index.js';
import { GateResultEntity, PromotionEntity } from '#libs/db/index.js';
import { canonicalJson, owedWork, SYSTEM_ACTORS, sha256Hex, type GateStatus } from '#libs/domain/index.js';
import type { GateJobData } from '#libs/queue/index.js';
import { pinnedImage, type PinnedImage } from '#libs/registry/index.js';
import { AuditService } from './audit.service.js';
import { FollowUpService } from './follow-up.service.js';
import { lastErrorOf, recordLastError } from './last-error.js';
import { gateDuration, gateResults } from './metrics.js';
import { PromotionStateService } from './promotion-state.service.js';

export interface GateContext {
  promotion: Readonly<PromotionEntity>;
  /** The source image, split once: the gates never re-parse `promotion.repository`. */
  image: PinnedImage;
  environment: EnvironmentConfig;
  options: Record<string, unknown>;
  /** Aborted when the gate's deadline passes: hand it to every registry read. */
  signal: AbortSignal;
}

export interface GateVerdict {
  status: Exclude<GateStatus, 'pending'>;
  summary: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any JSON
  evidence: Record<string, any>;
  /**
   * What the verdict rests on, and all that the evidence digest covers (approvals are bound to it):
   * the inputs a decision depends on, never ids or times of one evaluation, so the same inputs
   * give the same digest in every round. Stored in the evidence as `basis`. Absent: the whole evidence.
   */
  basis?: Record<string, unknown>;
}

/** The digest approvals are bound to: of the verdict's basis when it names one, else of all its evidence. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any JSON
export function gateEvidence(verdict: GateVerdict): { evidence: Record<string, any>; evidenceDigest: string } {
  if (!verdict.basis) return { evidence: verdict.evidence, evidenceDigest: 'sha256:' + sha256Hex(canonicalJson(verdict.evidence)) };
  return { evidence: { ...verdict.evidence, basis: verdict.basis }, evidenceDigest: 'sha256:' + sha256Hex(canonicalJson(verdict.basis)) };
}

/** One gate type's evaluation. Throwing means "try again later"; a verdict is final for the round. */
export type GateHandler = (context: GateContext) => Promise<GateVerdict>;

/** A gate implementation: a Nest provider the worker module registers under its type. */
export interface Gate {
  readonly type: GateType;
  evaluate(context: GateContext): Promise<GateVerdict>;
}

/** Gate implementations, by type. A gate the pipeline demands with no handler here fails closed. */
export const GATE_HANDLERS = Symbol('GATE_HANDLERS');
export type GateHandlers = Partial<Record<GateType, GateHandler>>;

const WORKER = SYSTEM_ACTORS.worker;

@Injectable()
export class GateService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly state: PromotionStateService,
    private readonly audit: AuditService,
    private readonly followUp: FollowUpService,
    @Optional() @Inject(GATE_HANDLERS) private readonly handlers: GateHandlers = {},
  ) {}

  /** Evaluates one gate of one round; a job for a stale round or a decided gate does nothing. */
  async evaluate(job: GateJobData, attempt = 1): Promise<'recorded' | 'skipped'> {
    const claimed = await this.audit.transaction(async (manager) => {
      const promotion = await manager.findOne(PromotionEntity, { where: { id: job.promotionId }, lock: { mode: 'pessimistic_write' } });
      if (!promotion || !(await this.owed(manager, promotion, job))) return null;
      if (promotion.status === 'pending') await this.state.move(manager, promotion, 'start_evaluation', WORKER);
      return promotion;
    });
    if (!claimed) return 'skipped';

    const environment = this.state.environmentOf(claimed);
    const handler = this.handlers[job.gate] ?? notImplemented(job.gate);
    const timer = gateDuration.startTimer({ gate: job.gate });
    const deadlineMs = gateDeadlineMs(environment, job.gate);
    const image = pinnedImage(claimed.repository, claimed.digest);
    const verdict = await withDeadline(job.gate, deadlineMs, (signal) =>
      handler({ promotion: claimed, image, environment, options: environment.gates[job.gate] ?? {}, signal }),
    );
    timer();
    return (await this.record(job, verdict, attempt)) ? 'recorded' : 'skipped';
  }

  /** Writes a gate's verdict for its round and moves the promotion on if that settles it. */
  async record(job: GateJobData, verdict: GateVerdict, attempt = 1): Promise<boolean> {
    const settled = await this.audit.transaction(async (manager) => {
      const promotion = await this.state.lock(manager, job.promotionId);
      if (!(await this.owed(manager, promotion, job))) return null;
      const { evidence, evidenceDigest } = gateEvidence(verdict);
      await manager.update(
        GateResultEntity,
        { promotionId: job.promotionId, gate: job.gate },
        { status: verdict.status, summary: verdict.summary, evidence, evidenceDigest, updatedAt: new Date() },
      );
      await this.audit.append(manager, WORKER, {
        action: `gate.${verdict.status}`,
        subject: `promotion:${job.promotionId}`,
        data: { gate: job.gate, round: job.round, summary: verdict.summary, evidenceDigest },
      });
      gateResults.inc({ gate: job.gate, status: verdict.status });
      // A gate that could not run is the promotion's error; a gate that judged the image failing is not.
      if (verdict.status === 'error')
        await recordLastError(manager, promotion.id, lastErrorOf(verdict.summary, `gate:${job.gate}`, attempt));
      await this.state.settle(manager, promotion, WORKER);
      // Still evaluating: a gate that waited for this one (the policy gate) may start now.
      const pending =
        owedWork(promotion.status) === 'gates'
          ? (await manager.find(GateResultEntity, { where: { promotionId: promotion.id, round: promotion.round, status: 'pending' } })).map(
              (g) => g.gate as GateType,
            )
          : [];
      return { promotion, pending };
    });
    if (!settled) return false;
    await this.followUp.after(settled.promotion, settled.pending);
    return true;
  }

  /** An attempt threw and will be retried: readers see why the gate is still pending. */
  async noteError(job: GateJobData, err: unknown, attempt: number): Promise<void> {
    const error = lastErrorOf(`${err instanceof Error ? err.message : String(err)} (will retry)`, `gate:${job.gate}`, attempt);
    await this.audit.transaction(async (manager) => {
      const promotion = await this.state.lock(manager, job.promotionId);
      if (await this.owed(manager, promotion, job)) await recordLastError(manager, promotion.id, error);
    });
  }

  private async owed(manager: EntityManager, promotion: PromotionEntity, job: GateJobData): Promise<boolean> {
    if (promotion.round !== job.round || owedWork(promotion.status) !== 'gates') return false;
    const gate = await manager.findOneBy(GateResultEntity, { promotionId: promotion.id, gate: job.gate });
    return gate !== null && gate.round === job.round && gate.status === 'pending';
  }
}

/**
 * Runs a handler under a deadline. When it passes, the handler's signal aborts (its registry reads
 * stop) and the verdict is an `error` at once, whether or not the handler has noticed: the queue
 * slot is freed and the promotion is blocked, open to re-evaluation.
 */
async function withDeadline(gate: GateType, deadlineMs: number, run: (signal: AbortSignal) => Promise<GateVerdict>): Promise<GateVerdict> {
  const controller = new AbortController();
  let expire!: () => void;
  const expired = new Promise<'expired'>((resolve) => (expire = () => resolve('expired')));
  const timer = setTimeout(() => {
    controller.abort(new DOMException(`the ${gate} gate's deadline of ${deadlineMs} ms passed`, 'TimeoutError'));
    expire();
  }, deadlineMs);
  const running = run(controller.signal);
  // Whatever the handler does once abandoned (usually throw the abort) is no longer anyone's concern.
  running.catch(() => undefined);
  try {
    const outcome = await Promise.race([running, expired]).catch((err: unknown) => {
      if (controller.signal.aborted) return 'expired' as const;
      throw err;
    });
    if (outcome !== 'expired') return outcome;
    return {
      status: 'error',
      summary: `the ${gate} gate did not finish within its deadline of ${formatMs(deadlineMs)} (deadline exceeded); re-evaluate once the registry answers in time`,
      evidence: { error: 'deadline exceeded', deadlineMs },
    };
  } finally {
    clearTimeout(timer);
  }
}

function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function notImplemented(gate: GateType): GateHandler {
  return async () => ({
    status: 'error',
    summary: `the ${gate} gate is not implemented in this version of the promoter; failing closed`,
    evidence: { implemented: false, gate },
  });
}
