// Configuration: process settings from the environment and the pipeline file (promoter.yaml),
// validated once at boot; nothing else reads process.env.
export * from './app-config.js';
export * from './audit-config.js';
export * from './config-error.js';
export * from './duration.js';
export * from './limits-config.js';
export * from './identity-config.js';
export * from './gate-deadline.js';
export * from './notify-config.js';
export * from './pipeline-config.js';
export * from './policy-gate.js';
export * from './process-config.js';
export * from './scan-gate.js';
export * from './signature-gate.js';
export * from './worker-config.js';
export * from './config.module.js';
