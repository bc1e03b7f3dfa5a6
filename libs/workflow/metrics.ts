import { collectDefaultMetrics, Counter, Histogram, register } from 'prom-client';

// Process metrics (CPU, memory, event-loop lag) once per process, however many apps it builds.
if (!register.getSingleMetric('process_cpu_seconds_total')) collectDefaultMetrics();

export const promotionTransitions = new Counter({
  name: 'promoter_promotion_transitions_total',
  help: 'Promotion status changes, by the status entered',
  labelNames: ['to'] as const,
});

export const gateResults = new Counter({
  name: 'promoter_gate_results_total',
  help: 'Gate results recorded, by gate and status',
  labelNames: ['gate', 'status'] as const,
});

export const gateDuration = new Histogram({
  name: 'promoter_gate_duration_seconds',
  help: 'Time a gate took to evaluate',
  labelNames: ['gate'] as const,
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
});
