import { Module } from '@nestjs/common';
import { AppConfig } from '#libs/config/index.js';
import { RegistryClient } from '#libs/registry/index.js';
import { ApprovalService } from './approval.service.js';
import { AttestationService, signerProvider } from './attestation.service.js';
import { AuditQueryService } from './audit-query.service.js';
import { AuditService } from './audit.service.js';
import {
  AuditCheckpointService,
  AuditIntegrator,
  auditKeyProvider,
  AuditProofService,
  AuditPublisher,
  AuditTreeStore,
  AuditVerifier,
} from './audit/index.js';
import { EnvironmentResolver } from './environment-resolver.js';
import { EnvironmentService } from './environment.service.js';
import { FollowUpService } from './follow-up.service.js';
import { LifecycleLog } from './lifecycle-log.js';
import { PromoteService } from './promote.service.js';
import { PromotionStateService } from './promotion-state.service.js';
import { PromotionService } from './promotion.service.js';
import { ProvenanceService } from './provenance.service.js';
import { ReconcilerService } from './reconciler.service.js';

const services = [
  ApprovalService,
  AttestationService,
  AuditQueryService,
  AuditService,
  AuditCheckpointService,
  AuditIntegrator,
  AuditProofService,
  AuditPublisher,
  AuditTreeStore,
  AuditVerifier,
  EnvironmentResolver,
  EnvironmentService,
  FollowUpService,
  PromoteService,
  PromotionStateService,
  PromotionService,
  ProvenanceService,
  ReconcilerService,
];

/** GateService is not here: the worker provides it together with the gate implementations. */
/** The only way to reach a registry: it talks to no host the pipeline file does not name. */
const registryClient = {
  provide: RegistryClient,
  inject: [AppConfig],
  useFactory: (config: AppConfig) => {
    const { retries, concurrency } = config.pipeline.worker;
    return new RegistryClient(config.pipeline.registries, {
      env: config.registryEnv,
      retries: { attempts: retries.registry.attempts, baseDelayMs: retries.registry.backoffMs, maxDelayMs: retries.registry.maxBackoffMs },
      concurrency: concurrency.blobs,
    });
  },
};

@Module({
  providers: [...services, registryClient, signerProvider, LifecycleLog, auditKeyProvider],
  exports: [...services, RegistryClient, auditKeyProvider.provide],
})
export class WorkflowModule {}
