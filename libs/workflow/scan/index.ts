// The vulnerability gate's services over the database: scan results per digest and waivers.
export * from './scan-results.service.js';
export * from './scan-rows.js';
export * from './waiver.service.js';
export * from './scan.module.js';
export * from './new-findings-job.js';
