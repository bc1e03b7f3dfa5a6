// The audit log as a transparency log: the integrator, the tree store, proofs, verification, the key.
export * from './audit-checkpoints.service.js';
export * from './audit-integrator.service.js';
export * from './audit-key.js';
export * from './audit-proof.service.js';
export * from './audit-publisher.service.js';
export * from './audit-tree.store.js';
export * from './audit-verifier.service.js';
