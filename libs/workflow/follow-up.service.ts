import { Injectable, Logger } from '@nestjs/common';
import type { GateType } from '#libs/config/index.js';
import { owedWork, type PromotionStatus } from '#libs/domain/index.js';
import { JobQueues } from '#libs/queue/index.js';

/** Queuing is after the commit and best effort: if Redis is away, the reconciler queues it later. */
const ENQUEUE_TIMEOUT_MS = 2_000;

/**
 * What a promotion needs next, put on the queues once the change that owes it has committed:
 * gate evaluations for a new round, the copy for an approved promotion.
 */
@Injectable()
export class FollowUpService {
  private readonly logger = new Logger(FollowUpService.name);

  constructor(private readonly queues: JobQueues) {}

  async after(promotion: { id: string; status: PromotionStatus; round: number }, gates: readonly GateType[] = []): Promise<void> {
    const owed = owedWork(promotion.status);
    switch (owed) {
      case 'gates':
        if (gates.length > 0)
          await this.bounded(promotion.id, 'gates', () => this.queues.enqueueGates(promotion.id, promotion.round, gates));
        return;
      case 'copy':
        await this.bounded(promotion.id, 'promote', () => this.queues.enqueuePromote(promotion.id));
        return;
      case 'nothing':
        return;
    }
  }

  private async bounded(id: string, what: string, enqueue: () => Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        enqueue(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Redis did not answer in ${ENQUEUE_TIMEOUT_MS} ms`)), ENQUEUE_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      this.logger.warn(`could not queue ${what} for promotion ${id}; the reconciler will: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
