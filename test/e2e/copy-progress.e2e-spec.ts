import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { ProgressRecorder } from '#libs/workflow/index.js';
import { pushImage } from '../helpers/images.js';
import { eventually, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let ci: string;
let auditor: string;

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

beforeAll(async () => {
  t = await startTestApp();
  ci = await t.token('ci', ['ci']);
  auditor = await t.token('aud', ['auditor']);
});
afterAll(() => t?.close());

describe('copy progress', () => {
  it('a promoted promotion shows its copy: every blob and byte done, and the metrics count them', async () => {
    const img = await pushImage({ url: `http://${registryHost()}` }, 'dev/progressed', { layers: 3, tag: '1.0' });
    const total = img.layers.reduce((n, l) => n + l.size, 0) + img.config.size;
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${registryHost()}/dev/progressed:1.0`, target: 'open' });
    expect(created.status).toBe(202);
    expect(created.body.progress).toBeNull();
    const done = await eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
      return res.body.status === 'promoted' && res.body;
    }, 20_000);
    expect(done.progress).toEqual({
      blobsDone: 4,
      blobsTotal: 4,
      bytesDone: total,
      bytesTotal: total,
      startedAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(Date.parse(done.progress.updatedAt)).toBeGreaterThanOrEqual(Date.parse(done.progress.startedAt));

    const metrics = await (await t.api().get('/metrics').set(auth(auditor))).text;
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(value('promoter_copy_blobs_done_total')).toBeGreaterThanOrEqual(4);
    expect(value('promoter_copy_bytes_done_total')).toBeGreaterThanOrEqual(total);
    expect(value('promoter_copies_active')).toBe(0);
    expect(value('promoter_copy_bytes_remaining')).toBe(0);
  });

  it('writes the row once per interval however often the copy reports, and the last numbers at the end', async () => {
    const img = await pushImage({ url: `http://${registryHost()}` }, 'dev/counted', { layers: 1 });
    // Into staging, where it waits for approvals: no copy runs but the recorder under test.
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${registryHost()}/dev/counted@${img.digest}`, target: 'staging' });
    const id = created.body.id;
    const real = t.app.get(DataSource);
    let writes = 0;
    // The real database, with the writes counted.
    const counting = { query: (sql: string, params: unknown[]) => (writes++, real.query(sql, params)) } as unknown as DataSource;
    let clock = 0;
    const recorder = new ProgressRecorder(counting, id, () => clock);
    await recorder.start();
    clock = 60_000;
    for (let i = 1; i <= 1000; i++)
      recorder.update({ blobsDone: Math.floor(i / 100), blobsTotal: 10, bytesDone: i * 1000, bytesTotal: 1_000_000 });
    await recorder.finish();
    expect(writes).toBe(3);
    const shown = (await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci))).body;
    expect(shown.progress).toMatchObject({ blobsDone: 10, blobsTotal: 10, bytesDone: 1_000_000, bytesTotal: 1_000_000 });
  });
});
