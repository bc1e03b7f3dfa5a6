// Pure promotion rules: the status machine, gate verdicts and evidence digests, approval checks and tallies.
// No I/O and no framework, so every service and the CLI apply the same rules the same way.
export * from './errors.js';
export * from './promotion-status.js';
export * from './state-machine.js';
export * from './canonical-json.js';
export * from './audit-event.js';
export * from './gates.js';
export * from './approval-rule.js';
export * from './roles.js';
export * from './person.js';
export * from './duration.js';
export * from './names.js';
export * from './service-error.js';
export * from './open-decisions.js';
export * from './text.js';
