import { Injectable, Module } from '@nestjs/common';
import type { Gate, GateContext, GateVerdict } from './gate.service.js';
import { PolicyService } from './policy.service.js';
import { WorkflowModule } from './workflow.module.js';

/** The `policy` gate: the environment's CEL rules on the promotion's image. */
@Injectable()
export class PolicyGate implements Gate {
  readonly type = 'policy' as const;
  constructor(private readonly policy: PolicyService) {}

  evaluate(context: GateContext): Promise<GateVerdict> {
    return this.policy.gate(context);
  }
}

/** The policy service (gate and dry run); the worker registers PolicyGate, the API the dry run. */
@Module({ imports: [WorkflowModule], providers: [PolicyService, PolicyGate], exports: [PolicyService, PolicyGate] })
export class PolicyModule {}
