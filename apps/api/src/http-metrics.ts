import type { FastifyInstance } from 'fastify';
import { Histogram, register } from 'prom-client';

const NAME = 'promoter_http_request_duration_seconds';

function histogram(): Histogram<'method' | 'route' | 'status'> {
  return (
    (register.getSingleMetric(NAME) as Histogram<'method' | 'route' | 'status'> | undefined) ??
    new Histogram({
      name: NAME,
      help: 'HTTP requests by route template and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    })
  );
}

/** Route templates, not paths, as labels: ids would make the series unbounded. */
export function recordHttpMetrics(fastify: FastifyInstance): void {
  const h = histogram();
  fastify.addHook('onResponse', async (request, reply) => {
    h.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}
