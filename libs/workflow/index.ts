// Nest services over the domain rules, the database and the queues: promotions, approvals,
// gates, the reconciler and the audit log.
export * from './approval.service.js';
export * from './attestation.service.js';
export * from './audit-query.service.js';
export * from './audit.service.js';
export * from './audit/index.js';
export * from './cursor.js';
export * from './environment-resolver.js';
export * from './environment.service.js';
export * from './follow-up.service.js';
export * from './promote.service.js';
export * from './gate.service.js';
export * from './promotion-state.service.js';
export * from './promotion.service.js';
export * from './promotion.view.js';
export * from './policy.module.js';
export * from './policy.service.js';
export * from './provenance.service.js';
export * from './reconciler.service.js';
export * from './scan/index.js';
export * from './workflow.module.js';
export * from './core.module.js';
export { ProgressRecorder, type PromotionProgress } from './copy-progress.js';
