import { Module } from '@nestjs/common';
import { ApprovalService } from './approval.service.js';
import { AuditQueryService } from './audit-query.service.js';
import { AuditService } from './audit.service.js';
import { EnvironmentResolver } from './environment-resolver.js';
import { EnvironmentService } from './environment.service.js';
import { PromotionStateService } from './promotion-state.service.js';
import { PromotionService } from './promotion.service.js';
import { ProvenanceService } from './provenance.service.js';
import { ReconcilerService } from './reconciler.service.js';

const services = [
  ApprovalService,
  AuditQueryService,
  AuditService,
  EnvironmentResolver,
  EnvironmentService,
  PromotionStateService,
  PromotionService,
  ProvenanceService,
  ReconcilerService,
];

/** GateService is not here: the worker provides it together with the gate implementations. */
@Module({ providers: services, exports: services })
export class WorkflowModule {}
