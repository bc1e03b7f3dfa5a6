import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devImage, startTestApp, type TestApp, registryHost } from '../helpers/test-app.js';

let t: TestApp;
let ci: string;
let rm: string;
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

// A small deterministic generator, so a failure can be replayed.
let seed = 20261124;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
}
function value(depth = 0): unknown {
  const pick = rand(depth > 2 ? 7 : 10);
  const strings = ['', ' ', 'staging', 'prod', 'dev', '\u0000', 'é😀', 'x'.repeat(600), '../../etc', devImage(), `${registryHost()}/dev/app:latest`, 'sha256:' + 'a'.repeat(64)];
  switch (pick) {
    case 0: return null;
    case 1: return rand(2) === 0;
    case 2: return [0, -1, 1e308, 3.5, Number.MAX_SAFE_INTEGER][rand(5)];
    case 3: case 4: case 5: return strings[rand(strings.length)];
    case 6: return randomBytes(rand(20)).toString('base64');
    case 7: return Array.from({ length: rand(4) }, () => value(depth + 1));
    default: return Object.fromEntries(Array.from({ length: rand(4) }, () => [['image', 'target', 'reason', 'decision', 'comment', 'kind', '__proto__', 'constructor'][rand(8)]!, value(depth + 1)]));
  }
}

beforeAll(async () => {
  t = await startTestApp();
  ci = await t.token('ci', ['ci']);
  rm = await t.token('rm', ['release-manager']);
});
afterAll(() => t?.close());

describe('no input produces a 500', () => {
  it('answers 2xx or a 4xx with the error shape for 300 generated promotion requests', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const images = [devImage(), devImage('web', 'sha256:' + 'b'.repeat(64)), `${registryHost()}/staging/web@sha256:` + 'c'.repeat(64), 'evil.example/dev/x@sha256:' + 'd'.repeat(64), `${registryHost()}/dev/app:1`];
      const nearlyValid = { image: images[rand(images.length)], target: ['staging', 'prod', 'dev', 'qa', 'gated'][rand(5)], ...(rand(2) ? { reason: value() } : {}) };
      const body = rand(3) === 0 ? nearlyValid : rand(3) === 0 ? { image: value(), target: value(), reason: value() } : value();
      const req = t.api().post('/api/v1/promotions').set(auth(ci));
      if (rand(4) === 0) req.set('Idempotency-Key', String(value()).slice(0, 300) || 'k');
      // Mostly JSON of any shape; sometimes bytes that are not JSON at all.
      const payload = rand(6) === 0 ? String(value()) : JSON.stringify(body) ?? 'null';
      const res = await req.set('Content-Type', 'application/json').send(payload);
      expect(res.status, JSON.stringify(body)).toBeLessThan(500);
      seen.add(res.status);
      if (res.status >= 400) expect(res.body).toMatchObject({ statusCode: res.status, error: expect.any(String), message: expect.any(String) });
    }
    // The generator reaches past validation into the service, not only the 400s.
    expect([...seen].sort()).toEqual(expect.arrayContaining([400, 422]));
    expect(seen.has(202) || seen.has(409)).toBe(true);
  });

  it('answers below 500 for generated decisions, reviews, ids and queries', async () => {
    const created = await t.api().post('/api/v1/promotions').set(auth(ci)).send({ image: devImage('fuzz'), target: 'staging' });
    const ids = [created.body.id, 'x', '00000000-0000-0000-0000-000000000000', '%00', 'a'.repeat(300)];
    for (let i = 0; i < 150; i++) {
      const id = encodeURIComponent(ids[rand(ids.length)]!);
      const path = ['approvals', 'reviews', 'cancel', 'reevaluate'][rand(4)];
      const res = await t.api().post(`/api/v1/promotions/${id}/${path}`).set(auth(rm)).set('Content-Type', 'application/json').send(JSON.stringify(value()) ?? 'null');
      expect(res.status, `${path} ${id}`).toBeLessThan(500);
      const q = await t.api().get('/api/v1/promotions').query({ status: String(value()), cursor: String(value()), limit: String(value()) }).set(auth(rm));
      expect(q.status).toBeLessThan(500);
    }
  });
});
