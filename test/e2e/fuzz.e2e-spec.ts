import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devImage, startTestApp, type TestApp, registryHost } from '../helpers/test-app.js';

let t: TestApp;
let ci: string;
let rm: string;
/** An image the registry holds, pushed once: the generated requests name it often. */
let existing: string;
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

// A small deterministic generator, so a failure can be replayed.
let seed = 20261124;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  // The high bits: an LCG's low bits cycle (the lowest one alternates), which would tie choices together.
  return Math.floor((seed / 2 ** 31) * n);
}
function value(depth = 0): unknown {
  const pick = rand(depth > 2 ? 7 : 10);
  const strings = [
    '',
    ' ',
    'staging',
    'prod',
    'dev',
    '\u0000',
    'é😀',
    'x'.repeat(600),
    '../../etc',
    existing,
    `${registryHost()}/dev/app:latest`,
    'sha256:' + 'a'.repeat(64),
  ];
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand(2) === 0;
    case 2:
      return [0, -1, 1e308, 3.5, Number.MAX_SAFE_INTEGER][rand(5)];
    case 3:
    case 4:
    case 5:
      return strings[rand(strings.length)];
    case 6:
      return randomBytes(rand(20)).toString('base64');
    case 7:
      return Array.from({ length: rand(4) }, () => value(depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: rand(4) }, () => [
          ['image', 'target', 'reason', 'decision', 'comment', 'kind', '__proto__', 'constructor'][rand(8)]!,
          value(depth + 1),
        ]),
      );
  }
}

beforeAll(async () => {
  t = await startTestApp();
  ci = await t.token('ci', ['ci']);
  rm = await t.token('rm', ['release-manager']);
  existing = await devImage();
});
afterAll(() => t?.close());

describe('no input produces a 500', () => {
  it('answers 2xx or a 4xx with the error shape for 300 generated promotion requests', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const images = [
        existing,
        `${registryHost()}/dev/web@sha256:` + 'b'.repeat(64),
        `${registryHost()}/staging/web@sha256:` + 'c'.repeat(64),
        'evil.example/dev/x@sha256:' + 'd'.repeat(64),
        `${registryHost()}/dev/app:1`,
      ];
      const nearlyValid = {
        image: images[rand(images.length)],
        target: ['staging', 'prod', 'dev', 'qa', 'gated'][rand(5)],
        ...(rand(2) ? { reason: value() } : {}),
      };
      const body = rand(3) === 0 ? nearlyValid : rand(3) === 0 ? { image: value(), target: value(), reason: value() } : value();
      const req = t.api().post('/api/v1/promotions').set(auth(ci));
      // A header can only carry visible ASCII (the client refuses anything else before sending).
      if (rand(4) === 0)
        req.set(
          'Idempotency-Key',
          String(value())
            .replace(/[^\x20-\x7e]/g, '?')
            .slice(0, 300) || 'k',
        );
      // Mostly JSON of any shape; sometimes bytes that are not JSON at all.
      const payload = rand(6) === 0 ? String(value()) : (JSON.stringify(body) ?? 'null');
      const res = await req.set('Content-Type', 'application/json').send(payload);
      expect(res.status, JSON.stringify(body)).toBeLessThan(500);
      seen.add(res.status);
      if (res.status >= 400)
        expect(res.body).toMatchObject({ statusCode: res.status, error: expect.any(String), message: expect.any(String) });
    }
    // The generator reaches past validation into the service, not only the 400s.
    expect([...seen].sort()).toEqual(expect.arrayContaining([400, 422]));
    expect(seen.has(202) || seen.has(409)).toBe(true);
  });

  it('answers below 500 for generated decisions, reviews, ids and queries', async () => {
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('fuzz'), target: 'staging' });
    const ids = [created.body.id, 'x', '00000000-0000-0000-0000-000000000000', '%00', 'a'.repeat(300)];
    for (let i = 0; i < 150; i++) {
      const id = encodeURIComponent(ids[rand(ids.length)]!);
      const path = ['approvals', 'reviews', 'cancel', 'reevaluate'][rand(4)];
      const res = await t
        .api()
        .post(`/api/v1/promotions/${id}/${path}`)
        .set(auth(rm))
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(value()) ?? 'null');
      expect(res.status, `${path} ${id}`).toBeLessThan(500);
      const q = await t
        .api()
        .get('/api/v1/promotions')
        .query({ status: String(value()), cursor: String(value()), limit: String(value()) })
        .set(auth(rm));
      expect(q.status).toBeLessThan(500);
    }
  });
});

describe('no input to the gate, waiver, scan, policy and token endpoints produces a 500 or a half-write', () => {
  it('answers 2xx or a 4xx with the error shape for 150 generated requests to each', async () => {
    const sec = await t.token('sec', ['security-reviewer']);
    const digests = ['sha256:' + 'e'.repeat(64), 'sha256:xyz', 'x', '%00', 'sha256:' + 'E'.repeat(64)];
    const ids = ['x', '00000000-0000-4000-8000-000000000000', 'a'.repeat(300), '%00'];
    const keys = [
      'vulnerabilityId',
      'scope',
      'justification',
      'expiresAt',
      'vex',
      'format',
      'report',
      'image',
      'target',
      'digest',
      'repository',
      'all',
      'status',
    ];
    const shaped = (): Record<string, unknown> =>
      Object.fromEntries(Array.from({ length: rand(6) }, () => [keys[rand(keys.length)]!, value(1)]));
    // Each field right three times in four, so whole requests get through validation too.
    const mostly = <T>(good: T[], bad: () => unknown) => (rand(4) === 0 ? bad() : good[rand(good.length)]);
    const nearlyValidWaiver = () => ({
      vulnerabilityId: mostly(['CVE-2024-1234', 'GHSA-abcd-efgh-ijkl'], () => ['', 'x'.repeat(300), value()][rand(3)]),
      scope: mostly(
        [{ digest: 'sha256:' + 'e'.repeat(64) }, { repository: `${registryHost()}/dev/app` }, { all: true }],
        () => [{ all: false }, { digest: 'x' }, value()][rand(3)],
      ),
      justification: mostly(['reason enough for this test'], () => ['', value()][rand(2)]),
      // Past, within the maximum, and beyond it (the first and the last are refused).
      expiresAt: mostly(
        [new Date(Date.now() + 86_400_000).toISOString(), new Date(Date.now() - 1000).toISOString(), '2999-01-01T00:00:00Z'],
        () => ['tomorrow', value()][rand(2)],
      ),
      ...(rand(3) === 0
        ? {
            vex: mostly([{ status: 'not_affected', justification: 'vulnerable_code_not_present' }, { status: 'under_investigation' }], () =>
              value(),
            ),
          }
        : {}),
    });
    const nearlyValidEvaluation = () => ({
      image: mostly([existing, `${registryHost()}/dev/app:latest`, 'evil.example/dev/x@sha256:' + 'd'.repeat(64)], () => value()),
      target: mostly(['gated', 'staging', 'dev', 'nowhere'], () => value()),
    });
    const codes = new Map<string, Set<number>>();
    const check = (what: string, res: { status: number; body: unknown }) => {
      expect(res.status, what).toBeLessThan(500);
      if (res.status >= 400)
        expect(res.body, what).toMatchObject({ statusCode: res.status, error: expect.any(String), message: expect.any(String) });
      codes.set(what.split(' ')[0]!, (codes.get(what.split(' ')[0]!) ?? new Set()).add(res.status));
    };
    const send = (body: unknown) => (rand(6) === 0 ? String(value()) : (JSON.stringify(body) ?? 'null'));
    let waiversCreated = 0;
    let scansStored = 0;
    for (let i = 0; i < 150; i++) {
      const waiver = await t
        .api()
        .post('/api/v1/waivers')
        .set(auth(sec))
        .set('Content-Type', 'application/json')
        .send(send(rand(2) ? nearlyValidWaiver() : shaped()));
      check(`waivers ${waiver.text?.slice(0, 200)}`, waiver);
      if (waiver.status === 201) waiversCreated++;

      const digest = encodeURIComponent(digests[rand(digests.length)]!);
      const scan = await t
        .api()
        .post(`/api/v1/images/${digest}/scans`)
        .set(auth(ci))
        .set('Content-Type', 'application/json')
        .send(send(rand(2) ? { format: ['trivy', 'grype', 'attestation', 'x'][rand(4)], report: value() } : shaped()));
      check(`scans ${scan.text?.slice(0, 200)}`, scan);
      if (scan.status === 201) scansStored++;
      check('findings', await t.api().get(`/api/v1/images/${digest}/findings`).set(auth(sec)));

      const evaluate = await t
        .api()
        .post('/api/v1/policy/evaluate')
        .set(auth(ci))
        .set('Content-Type', 'application/json')
        .send(send(rand(2) ? nearlyValidEvaluation() : shaped()));
      check(`evaluate ${evaluate.text?.slice(0, 200)}`, evaluate);

      const id = encodeURIComponent(ids[rand(ids.length)]!);
      check('revoke-waiver', await t.api().delete(`/api/v1/waivers/${id}`).set(auth(sec)));
      check('revoke-token', await t.api().delete(`/api/v1/tokens/${id}`).set(auth(t.bootstrapToken)));
      check(
        'list-waivers',
        await t
          .api()
          .get('/api/v1/waivers')
          .query({ active: String(value()), vulnerabilityId: String(value()) })
          .set(auth(sec)),
      );
    }
    // The generator reached past validation: some requests were refused for what they meant, not their shape.
    expect([...codes.get('waivers')!]).toEqual(expect.arrayContaining([201, 400]));
    expect([...codes.get('evaluate')!]).toEqual(expect.arrayContaining([400, 422]));
    expect([...codes.get('scans')!]).toEqual(expect.arrayContaining([400]));
    expect(waiversCreated).toBeGreaterThan(0);
    // Nothing half-written: exactly one row and one audit event per accepted request.
    const { rows: waivers } = await t.db.query('SELECT count(*)::int AS n FROM waivers');
    expect(waivers[0].n).toBe(waiversCreated);
    const { rows: waiverEvents } = await t.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE action = 'waiver.created'`);
    expect(waiverEvents[0].n).toBe(waiversCreated);
    // Scans the built-in scanner stored for gates (the generated promotions name a real image) are not uploads.
    const { rows: scans } = await t.db.query(`SELECT count(*)::int AS n FROM scan_results WHERE origin <> 'scanner'`);
    expect(scans[0].n).toBe(scansStored);
    expect((await t.api().get('/api/v1/audit/verify').set(auth(t.bootstrapToken))).body.ok).toBe(true);
  });
});
