// Durations live in libs/domain (duration.ts); this keeps the config lib's older import path.
export { durationMs, durationText, parseDuration } from '#libs/domain/index.js';
