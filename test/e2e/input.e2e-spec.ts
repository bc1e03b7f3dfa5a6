import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devImage, digest, startTestApp, type TestApp, registryHost } from '../helpers/test-app.js';

let t: TestApp;
let ci: string;
let rm: string;
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

async function counts() {
  const { rows } = await t.db.query(
    `SELECT (SELECT count(*) FROM promotions)::int AS promotions, (SELECT count(*) FROM gate_results)::int AS gates,
            (SELECT count(*) FROM audit_events)::int AS events, (SELECT count(*) FROM approvals)::int AS approvals`,
  );
  return rows[0];
}

beforeAll(async () => {
  t = await startTestApp();
  ci = await t.token('ci', ['ci']);
  rm = await t.token('rm', ['release-manager']);
});
afterAll(() => t?.close());

describe('malformed requests for a promotion', () => {
  const D = digest();
  // Refused before the registry is asked, so the digest need not exist.
  const IMAGE = `${registryHost()}/dev/web@${D}`;
  const cases: [string, unknown, number, string][] = [
    ['missing image', { target: 'staging' }, 400, 'image'],
    ['image not a string', { image: 42, target: 'staging' }, 400, 'image'],
    ['unknown field', { image: IMAGE, target: 'staging', force: true }, 400, 'unknown field(s): force'],
    [
      'a tag the registry does not have',
      { image: `${registryHost()}/dev/web:1.0`, target: 'staging' },
      422,
      'does not exist in the registry',
    ],
    ['a digest of the wrong length', { image: `${registryHost()}/dev/web@sha256:abc`, target: 'staging' }, 400, '64 lowercase hex'],
    ['uppercase repository', { image: `${registryHost()}/dev/Web@${D}`, target: 'staging' }, 400, 'lowercase'],
    ['reason too long', { image: IMAGE, target: 'staging', reason: 'x'.repeat(5000) }, 400, 'reason'],
    ['unknown environment', { image: IMAGE, target: 'qa' }, 422, "unknown environment 'qa'"],
    ['a registry not in the pipeline', { image: `evil.example.com/dev/web@${D}`, target: 'staging' }, 422, 'not one of the registries'],
    [
      'a repository of no environment',
      { image: `${registryHost()}/tmp/web@${D}`, target: 'staging' },
      422,
      'not the repository of any environment',
    ],
    ['an array body', [1, 2], 400, 'expected object'],
  ];
  it.each(cases)('%s', async (_name, body, status, message) => {
    const before = await counts();
    const res = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send(body as object);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ statusCode: status });
    expect(typeof res.body.error).toBe('string');
    expect(res.body.message).toContain(message);
    expect(await counts()).toEqual(before);
  });

  it('refuses malformed JSON with 400', async () => {
    const res = await t.api().post('/api/v1/promotions').set(auth(ci)).set('Content-Type', 'application/json').send('{"image": ');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const before = await counts();
    const res = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage(), target: 'staging', reason: 'x'.repeat(1024 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    expect(res.body.message).toContain('1 MiB');
    expect(await counts()).toEqual(before);
  });

  it('refuses a malformed Idempotency-Key', async () => {
    const res = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .set('Idempotency-Key', 'x'.repeat(201))
      .send({ image: await devImage(), target: 'staging' });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('Idempotency-Key');
  });
});

describe('malformed requests elsewhere', () => {
  it('names the field for bad ids, filters, cursors and decisions', async () => {
    const bad = async (res: { status: number; body: { message: string } }, status: number, text: string) => {
      expect(res.status).toBe(status);
      expect(res.body.message).toContain(text);
    };
    await bad(await t.api().get('/api/v1/promotions/not-a-uuid').set(auth(ci)), 400, 'promotion id');
    await bad(await t.api().get('/api/v1/promotions/7f1d8f7e-4a3b-4c2d-9e1f-0a1b2c3d4e5f').set(auth(ci)), 404, 'no promotion');
    await bad(await t.api().get('/api/v1/promotions?status=done').set(auth(ci)), 400, "'done' is not a promotion status");
    await bad(await t.api().get('/api/v1/promotions?cursor=zzz').set(auth(ci)), 400, 'cursor');
    await bad(await t.api().get('/api/v1/promotions?limit=0').set(auth(ci)), 400, 'limit');
    await bad(await t.api().get('/api/v1/promotions?colour=red').set(auth(ci)), 400, 'colour');
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage(), target: 'staging' });
    const before = await counts();
    await bad(
      await t.api().post(`/api/v1/promotions/${created.body.id}/approvals`).set(auth(rm)).send({ decision: 'maybe' }),
      400,
      'decision',
    );
    await bad(await t.api().post(`/api/v1/promotions/${created.body.id}/approvals`).set(auth(rm)).send(), 400, 'expected object');
    expect(await counts()).toEqual(before);
    await bad(
      await t
        .api()
        .get('/api/v1/images/sha256:xyz/provenance')
        .set(auth(await t.token('aud', ['auditor']))),
      400,
      'digest',
    );
    await bad(
      await t
        .api()
        .post('/api/v1/tokens')
        .set(auth(t.bootstrapToken))
        .send({ name: 'bad name!', roles: ['ci'] }),
      400,
      'name',
    );
    await bad(
      await t
        .api()
        .post('/api/v1/tokens')
        .set(auth(t.bootstrapToken))
        .send({ name: 'ok', roles: ['root'] }),
      400,
      'roles',
    );
    await bad(await t.api().get('/api/v1/nothing-here').set(auth(ci)), 404, 'nothing-here');
  });
});

describe('a NUL character', () => {
  it('is refused wherever it is, naming the field, before anything is written', async () => {
    const sec = await t.token('nul-sec', ['security-reviewer']);
    const before = await counts();
    const waiver = await t
      .api()
      .post('/api/v1/waivers')
      .set(auth(sec))
      .send({
        vulnerabilityId: 'CVE-2024-1234',
        scope: { all: true },
        justification: 'looks fine\u0000really',
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      });
    expect(waiver.status).toBe(400);
    expect(waiver.body.message).toBe('justification: must not contain a NUL character');
    const listed = await t.api().get('/api/v1/waivers').query({ vulnerabilityId: 'CVE\u0000' }).set(auth(sec));
    expect(listed.status).toBe(400);
    expect(listed.body.message).toBe('vulnerabilityId: must not contain a NUL character');
    const promotion = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage(), target: 'staging', reason: 'a\u0000b' });
    expect(promotion.status).toBe(400);
    expect(promotion.body.message).toBe('reason: must not contain a NUL character');
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM waivers');
    expect(rows[0].n).toBe(0);
    expect(await counts()).toEqual(before);
  });
});

describe('bodies no handler should see', () => {
  it('a JSON body nested past 64 levels is a 400 naming the limit, before anything walks it (it was a 500: stack overflow)', async () => {
    const before = await counts();
    for (const depth of [65, 50_000]) {
      const deep = '['.repeat(depth) + ']'.repeat(depth);
      const res = await t
        .api()
        .post('/api/v1/promotions')
        .set(auth(ci))
        .set('Content-Type', 'application/json')
        .send(`{"image":"x","target":"staging","reason":${deep}}`);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.body.message).toBe('the JSON body nests deeper than 64 levels (the limit)');
    }
    // Brackets inside strings are text, not nesting.
    const text = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage(), target: 'staging', reason: '['.repeat(3000) });
    expect(text.status).toBe(202);
    const scan = await t
      .api()
      .post(`/api/v1/images/sha256:${'a'.repeat(64)}/scans`)
      .set(auth(ci))
      .set('Content-Type', 'application/json')
      .send(`{"report":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`);
    expect(scan.status).toBe(400);
    expect(scan.body.message).toContain('64 levels');
    expect((await counts()).promotions).toBe(before.promotions + 1);
  });

  it('a lone UTF-16 surrogate in any string is a 400 naming the field (it was a 500 from PostgreSQL)', async () => {
    const before = await counts();
    const res = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage(), target: 'staging', reason: 'x\ud800y' });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('reason: must not contain a lone UTF-16 surrogate (invalid Unicode)');
    // As JSON escapes on the wire, a low surrogate alone, and in a key.
    const raw = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .set('Content-Type', 'application/json')
      .send(`{"image":"${await devImage()}","target":"staging","reason":"a\\udc00"}`);
    expect(raw.status).toBe(400);
    expect(raw.body.message).toContain('reason: must not contain a lone UTF-16 surrogate');
    const sec = await t.token('surrogate-sec', ['security-reviewer']);
    const waiver = await t
      .api()
      .post('/api/v1/waivers')
      .set(auth(sec))
      .send({
        vulnerabilityId: 'CVE-2024-1234',
        scope: { all: true },
        justification: 'fine \ud83d',
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      });
    expect(waiver.status).toBe(400);
    expect(waiver.body.message).toContain('justification: must not contain a lone UTF-16 surrogate');
    // A pair is a character like any other.
    const pair = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage(), target: 'staging', reason: 'ship it 😀' });
    expect(pair.status).toBe(202);
    expect((await counts()).promotions).toBe(before.promotions + 1);
  });

  it('a form body (curl -d without a content type) is a 415 saying to send JSON, except on the Slack route; other types too', async () => {
    const before = await counts();
    const form = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send(`image=${encodeURIComponent(await devImage())}&target=staging`);
    expect(form.status).toBe(415);
    expect(form.body).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
    expect(form.body.message).toContain('send application/json');
    expect(form.body.message).not.toContain('readUInt8');
    const text = await t.api().post('/api/v1/promotions').set(auth(ci)).set('Content-Type', 'text/plain').send('hello');
    expect(text.status).toBe(415);
    expect(text.body.message).toContain('send application/json');
    expect(await counts()).toEqual(before);
  });
});
