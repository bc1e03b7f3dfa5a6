import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage } from '../helpers/images.js';
import { freePort } from '../helpers/process.js';
import { registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let ci: string;
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const registry = () => ({ url: `http://${registryHost()}` });

beforeAll(async () => {
  t = await startTestApp();
  ci = await t.token('ci', ['ci']);
});
afterAll(() => t?.close());

describe('requesting a promotion by tag', () => {
  it('resolves the tag once, at request time; moving the tag later changes nothing', async () => {
    const first = await pushImage(registry(), 'dev/tagged', { tag: 'v1' });
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${registryHost()}/dev/tagged:v1`, target: 'staging' });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({
      digest: first.digest,
      image: `${registryHost()}/dev/tagged@${first.digest}`,
      targetTag: 'v1',
      targetRepository: `${registryHost()}/staging/tagged`,
    });

    const moved = await pushImage(registry(), 'dev/tagged', { tag: 'v1' });
    expect(moved.digest).not.toBe(first.digest);
    const later = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
    expect(later.body.digest).toBe(first.digest);
    const { rows } = await t.db.query('SELECT digest FROM promotions WHERE id = $1', [created.body.id]);
    expect(rows[0].digest).toBe(first.digest);

    // A new request by the same tag gets what the tag names now.
    const again = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${registryHost()}/dev/tagged:v1`, target: 'staging' });
    expect(again.status).toBe(202);
    expect(again.body.digest).toBe(moved.digest);
  });

  it('reads a reference with neither tag nor digest as :latest', async () => {
    const image = await pushImage(registry(), 'dev/bare', { tag: 'latest' });
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${registryHost()}/dev/bare`, target: 'staging' });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ digest: image.digest, targetTag: 'latest' });
  });

  it('uses the digest when both are given, and keeps the tag as the target tag', async () => {
    const image = await pushImage(registry(), 'dev/both', { tag: 'v2', format: 'docker' });
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${registryHost()}/dev/both:v2@${image.digest}`, target: 'staging' });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ digest: image.digest, targetTag: 'v2' });
  });

  it('answers 422 for a tag the registry does not have, writing nothing', async () => {
    const before = (await t.db.query('SELECT count(*)::int AS n FROM promotions')).rows[0].n;
    const res = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${registryHost()}/dev/tagged:nope`, target: 'staging' });
    expect(res.status).toBe(422);
    expect(res.body.message).toContain(`'${registryHost()}/dev/tagged:nope' does not exist in the registry`);
    expect((await t.db.query('SELECT count(*)::int AS n FROM promotions')).rows[0].n).toBe(before);
  });
});

describe('a registry that does not answer', () => {
  it('answers 503 naming the problem', async () => {
    const port = await freePort();
    const down = await startTestApp({
      pipeline: `
registries:
  - name: local
    url: http://127.0.0.1:${port}
environments:
  - name: dev
    repository: local/dev/{app}
  - name: staging
    from: dev
    repository: local/staging/{app}
`,
    });
    try {
      const token = await down.token('ci', ['ci']);
      const res = await down
        .api()
        .post('/api/v1/promotions')
        .set(auth(token))
        .send({ image: `127.0.0.1:${port}/dev/web:v1`, target: 'staging' });
      expect(res.status).toBe(503);
      expect(res.body.message).toContain(`could not resolve '127.0.0.1:${port}/dev/web:v1'`);
    } finally {
      await down.close();
    }
  });
});
