import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the OpenAPI document is walked as plain JSON
type Json = any;

describe('the OpenAPI document', () => {
  let t: TestApp;
  let doc: Json;
  beforeAll(async () => {
    t = await startTestApp({ worker: false });
    const res = await t.api().get('/docs-json');
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(() => t?.close());

  const operations = () =>
    Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })),
    );

  it('gives every route a summary and a schema for each success answer that has a body', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const { route, op } of ops) {
      if (typeof op.summary !== 'string' || op.summary.trim() === '') problems.push(`${route}: no summary`);
      const success = Object.entries(op.responses ?? {}).filter(([status]) => status.startsWith('2'));
      if (success.length === 0) problems.push(`${route}: no success answer`);
      for (const [status, response] of success as Array<[string, Json]>) {
        if (status === '204') continue;
        const schemas = Object.values(response.content ?? {}).map((c: Json) => c.schema);
        if (schemas.length === 0 || schemas.some((s) => !s)) problems.push(`${route}: answer ${status} has no schema`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('resolves every schema reference', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    expect(refs.filter((name) => !doc.components.schemas[name])).toEqual([]);
  });

  it('asks for a token everywhere but the probes, /metrics included, and does not call tokens JWTs', () => {
    const scheme = doc.components.securitySchemes.bearer;
    expect(scheme).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(scheme.bearerFormat).toBeUndefined();
    for (const { route, op } of operations()) {
      if (route === 'GET /healthz' || route === 'GET /readyz') expect(op.security, route).toEqual([]);
      else expect(op.security, route).toEqual([{ bearer: [] }]);
    }
    const metrics = doc.paths['/metrics'].get;
    expect(metrics.responses['200'].content['text/plain']).toBeDefined();
    expect(metrics.responses['401']).toBeDefined();
  });
});
