import { Injectable, Module, type BeforeApplicationShutdown, type DynamicModule } from '@nestjs/common';
import { GATE_HANDLERS, GateService, WorkflowModule, type GateHandlers } from '../../../libs/workflow/index.js';
import { PolicyProcessor, ScanProcessor, VerifyProcessor } from './processors/gate.processor.js';
import { PromoteProcessor } from './processors/promote.processor.js';
import { ReconcileProcessor } from './processors/reconcile.processor.js';

/**
 * The gates implemented in this build. A gate the pipeline demands that is missing here fails
 * closed: its result is `error` and the promotion is blocked.
 */
const IMPLEMENTED_GATES: GateHandlers = {};

/** BullMQ processors: the gates, the promote step and the reconciler. Runs with no HTTP server. */
/** Lets jobs in flight finish before the database and Redis connections close (they close after). */
@Injectable()
class WorkerDrainer implements BeforeApplicationShutdown {
  constructor(
    private readonly verify: VerifyProcessor,
    private readonly scan: ScanProcessor,
    private readonly policy: PolicyProcessor,
    private readonly promote: PromoteProcessor,
    private readonly reconcile: ReconcileProcessor,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([this.verify, this.scan, this.policy, this.promote, this.reconcile].map((p) => p.worker?.close()));
  }
}

@Module({})
export class WorkerModule {
  static forRoot(handlers: GateHandlers = IMPLEMENTED_GATES): DynamicModule {
    return {
      module: WorkerModule,
      imports: [WorkflowModule],
      providers: [
        { provide: GATE_HANDLERS, useValue: handlers },
        GateService,
        VerifyProcessor,
        ScanProcessor,
        PolicyProcessor,
        PromoteProcessor,
        ReconcileProcessor,
        WorkerDrainer,
      ],
      exports: [GateService],
    };
  }
}
