import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { QueueEvents, type Queue } from 'bullmq';
import { ServiceError } from '#libs/domain/index.js';
import { JOBS, QUEUES } from '#libs/queue/index.js';
import { AuditIntegrator } from './audit-integrator.service.js';
import type { StoredCheckpoint } from './audit-tree.store.js';

const ON_DEMAND_TIMEOUT_MS = 15_000;

/**
 * Checkpoints on demand. Only a process holding the audit key signs: the API alone asks a worker
 * through the audit queue and waits for its answer.
 */
@Injectable()
export class AuditCheckpointService implements OnModuleDestroy {
  private events: QueueEvents | null = null;

  constructor(
    private readonly integrator: AuditIntegrator,
    @InjectQueue(QUEUES.audit) private readonly queue: Queue,
  ) {}

  async now(): Promise<StoredCheckpoint> {
    if (this.integrator.signs) return this.integrator.checkpointNow();
    this.events ??= new QueueEvents(this.queue.name, { connection: this.queue.opts.connection, prefix: this.queue.opts.prefix });
    await this.events.waitUntilReady();
    const job = await this.queue.add(JOBS.auditCheckpoint, {}, { attempts: 1, removeOnComplete: { age: 300 }, removeOnFail: { age: 300 } });
    try {
      return (await job.waitUntilFinished(this.events, ON_DEMAND_TIMEOUT_MS)) as StoredCheckpoint;
    } catch (err) {
      throw new ServiceError('unavailable', `no worker made the checkpoint: ${(err as Error).message}`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.events?.close();
  }
}
