import {
  Injectable,
  Module,
  type BeforeApplicationShutdown,
  type DynamicModule,
  type INestApplicationContext,
  type Type,
} from '@nestjs/common';
import { NotifyModule } from '#libs/notify/index.js';
import {
  GATE_HANDLERS,
  GateService,
  PolicyGate,
  PolicyModule,
  WorkflowModule,
  type Gate,
  type GateHandlers,
} from '#libs/workflow/index.js';
import { PolicyProcessor, ScanProcessor, VerifyProcessor } from './processors/gate.processor.js';
import { NotifyProcessor } from './processors/notify.processor.js';
import { AuditProcessor } from './processors/audit.processor.js';
import { AuditIntegratorLoop } from './audit-integrator.loop.js';
import { PromoteProcessor } from './processors/promote.processor.js';
import { ReconcileProcessor } from './processors/reconcile.processor.js';
import { InFlight } from './processors/in-flight.js';
import { Schedules } from './processors/schedules.js';
import { SignatureGateModule } from './gates/signature-gate.module.js';
import { SignatureGate } from './gates/signature.gate.js';
import { ScanGateModule } from './gates/scan-gate.module.js';
import { ScanGate } from './gates/scan.gate.js';

/**
 * The gates implemented in this build: the modules that provide them and the providers themselves.
 * A gate the pipeline demands that is missing here fails closed: its result is `error` and the
 * promotion is blocked.
 */
const GATE_MODULES: Array<Type<unknown> | DynamicModule> = [SignatureGateModule, PolicyModule, ScanGateModule];
const GATES: Array<Type<Gate>> = [SignatureGate, PolicyGate, ScanGate];

/** Lets jobs in flight finish before the database and Redis connections close (they close after). */
@Injectable()
class WorkerDrainer implements BeforeApplicationShutdown {
  constructor(
    private readonly verify: VerifyProcessor,
    private readonly scan: ScanProcessor,
    private readonly policy: PolicyProcessor,
    private readonly promote: PromoteProcessor,
    private readonly reconcile: ReconcileProcessor,
    private readonly notify: NotifyProcessor,
    private readonly audit: AuditProcessor,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(
      [this.verify, this.scan, this.policy, this.promote, this.reconcile, this.notify, this.audit].map((p) => p.worker?.close()),
    );
  }
}

/** BullMQ processors: the gates, the promote step and the reconciler. Runs with no HTTP server. */
@Module({})
export class WorkerModule {
  /** `overrides` replaces single gates (tests use it to script outcomes); the rest stay real. */
  static forRoot(overrides: GateHandlers = {}): DynamicModule {
    return {
      module: WorkerModule,
      imports: [WorkflowModule, NotifyModule, ...GATE_MODULES],
      providers: [
        {
          provide: GATE_HANDLERS,
          inject: GATES,
          useFactory: (...gates: Gate[]): GateHandlers => ({
            ...Object.fromEntries(gates.map((gate) => [gate.type, (context: Parameters<Gate['evaluate']>[0]) => gate.evaluate(context)])),
            ...overrides,
          }),
        },
        GateService,
        VerifyProcessor,
        ScanProcessor,
        PolicyProcessor,
        PromoteProcessor,
        ReconcileProcessor,
        NotifyProcessor,
        AuditProcessor,
        AuditIntegratorLoop,
        WorkerDrainer,
        InFlight,
        Schedules,
      ],
      exports: [GateService, InFlight],
    };
  }
}

/** What the worker in this process is busy with (empty when it runs no worker). */
export function workInFlight(app: INestApplicationContext): string[] {
  try {
    return app.get(InFlight, { strict: false }).describe();
  } catch {
    return [];
  }
}
