import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { z } from 'zod';
import { AppConfig, GATE_TYPES, type GateType } from '#libs/config/index.js';
import { JOBS, QUEUES, type GateJobData } from '#libs/queue/index.js';
import { GateService } from '#libs/workflow/index.js';
import { InFlight } from './in-flight.js';

const gateJobSchema = z.strictObject({
  promotionId: z.uuid(),
  gate: z.enum(GATE_TYPES),
  round: z.number().int().min(1),
});

/** One processor per gate queue; all share this: validate the job, evaluate, give up cleanly. */
abstract class GateProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(this.constructor.name);

  constructor(
    private readonly gates: GateService,
    private readonly gate: GateType,
    private readonly inFlight: InFlight,
    private readonly config: AppConfig,
  ) {
    super();
  }

  /** `worker.concurrency.gates` (the decorator's options are fixed before the config is known). */
  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.pipeline.worker.concurrency.gates;
  }

  async process(job: Job<unknown>): Promise<string> {
    if (job.name !== JOBS.evaluateGate) throw new UnrecoverableError(`no handler for job '${job.name}' on the ${this.gate} queue`);
    const parsed = gateJobSchema.safeParse(job.data);
    if (!parsed.success || parsed.data.gate !== this.gate) {
      throw new UnrecoverableError(`malformed ${this.gate} job ${job.id}: ${parsed.error?.message ?? 'wrong gate'}`);
    }
    return this.inFlight.track(`the ${this.gate} gate of promotion ${parsed.data.promotionId}`, () =>
      this.gates.evaluate(parsed.data, job.attemptsMade + 1),
    );
  }

  /** Retrying cannot help any more: the gate reports an error instead of leaving the promotion waiting. */
  @OnWorkerEvent('failed')
  async onFailed(job: Job<GateJobData> | undefined, err: Error): Promise<void> {
    if (!job || err instanceof UnrecoverableError) return;
    if (job.attemptsMade < (job.opts.attempts ?? 1)) {
      await this.gates
        .noteError(job.data, err, job.attemptsMade)
        .catch((e: Error) => this.logger.error(`could not record the ${this.gate} gate's error: ${e.message}`));
      return;
    }
    await this.gates
      .record(
        job.data,
        {
          status: 'error',
          summary: `the ${this.gate} gate gave up after ${job.attemptsMade} attempts: ${err.message}`,
          evidence: { error: err.message, attempts: job.attemptsMade },
        },
        job.attemptsMade,
      )
      .catch((e: Error) => this.logger.error(`could not record the ${this.gate} gate's failure: ${e.message}`));
  }
}

@Processor(QUEUES.verify)
export class VerifyProcessor extends GateProcessor {
  constructor(gates: GateService, inFlight: InFlight, config: AppConfig) {
    super(gates, 'signature', inFlight, config);
  }
}

@Processor(QUEUES.scan)
export class ScanProcessor extends GateProcessor {
  constructor(gates: GateService, inFlight: InFlight, config: AppConfig) {
    super(gates, 'scan', inFlight, config);
  }
}

@Processor(QUEUES.policy)
export class PolicyProcessor extends GateProcessor {
  constructor(gates: GateService, inFlight: InFlight, config: AppConfig) {
    super(gates, 'policy', inFlight, config);
  }
}
