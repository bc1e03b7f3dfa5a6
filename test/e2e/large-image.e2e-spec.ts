import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getManifest, pushLargeImage, type PushedImage } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { eventually, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

// The promote step streams blobs: a 1 GiB image crosses registries whole and byte for byte, while the
// process doing the copy (the worker runs inside this test process) grows by far less than one layer.

const run = promisify(execFile);
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

const MiB = 1024 * 1024;
const LAYERS = 4;
/** pushLargeImage makes a layer 512 bytes short of layerSize when the file fills whole tar blocks: 256 MiB each. */
const LAYER_SIZE = 256 * MiB + 512;
const RSS_GROWTH_LIMIT = 200 * MiB;
const PROMOTED_TIMEOUT_MS = 180_000;

let remote: TestRegistry;
let t: TestApp;
let ci: string;
const local = () => ({ url: `http://${registryHost()}` });

beforeAll(async () => {
  remote = await startRegistry();
  t = await startTestApp({
    pipeline: `
registries:
  - name: local
    url: http://${registryHost()}
  - name: remote
    url: ${remote.url}
environments:
  - name: dev
    repository: local/dev/{app}
  - name: far
    from: dev
    repository: remote/large/{app}
`,
  });
  ci = await t.token('ci', ['ci']);
});

afterAll(async () => {
  await t?.close();
  // Stopping the registry removes its storage (the copied GiB) with it.
  await remote?.stop();
});

/** Samples this process's RSS every 50 ms until stopped. */
function rssSampler(): { stop(): { baseline: number; peak: number } } {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      return { baseline, peak };
    },
  };
}

describe('a large image', () => {
  it('crosses registries whole and byte for byte, streamed: the copying process grows by less than 200 MB', async () => {
    const image: PushedImage = await pushLargeImage(local(), 'dev/large', { layers: LAYERS, layerSize: LAYER_SIZE });
    const layerBytes = image.layers.reduce((sum, l) => sum + l.size, 0);
    expect(image.layers.map((l) => l.size)).toEqual(Array(LAYERS).fill(256 * MiB));
    expect(layerBytes).toBeGreaterThanOrEqual(1024 * MiB);
    const source = await getManifest(local(), 'dev/large', image.digest);
    expect(source.status).toBe(200);

    const rss = rssSampler();
    let memory: { baseline: number; peak: number };
    let done: { id: string; status: string; digest: string };
    try {
      const created = await t
        .api()
        .post('/api/v1/promotions')
        .set(auth(ci))
        .send({ image: `${registryHost()}/dev/large@${image.digest}`, target: 'far' });
      expect(created.status).toBe(202);
      done = await eventually(async () => {
        const res = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
        if (res.body.status === 'failed') throw new Error(`promotion failed: ${JSON.stringify(res.body)}`);
        return res.body.status === 'promoted' && res.body;
      }, PROMOTED_TIMEOUT_MS);
    } finally {
      memory = rss.stop();
    }
    expect(done.digest).toBe(image.digest);

    // Every byte went across: nothing mounted or skipped.
    const { rows } = await t.db.query(`SELECT data FROM audit_events WHERE subject = $1 AND action = 'promotion.promoted'`, [
      `promotion:${done.id}`,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0].data).toMatchObject({
      blobsCopied: LAYERS + 1,
      blobsMounted: 0,
      blobsSkipped: 0,
      bytesCopied: layerBytes + image.config.size,
    });

    // The manifest's exact bytes, and every blob it references with its size.
    const target = await getManifest({ url: remote.url }, 'large/large', image.digest);
    expect(target.status).toBe(200);
    expect(target.digest).toBe(image.digest);
    expect(target.bytes.equals(source.bytes)).toBe(true);
    expect(target.bytes.equals(image.bytes)).toBe(true);
    for (const blob of [image.config, ...image.layers]) {
      const head = await fetch(`${remote.url}/v2/large/large/blobs/${blob.digest}`, { method: 'HEAD' });
      expect({ digest: blob.digest, status: head.status, size: Number(head.headers.get('content-length')) }).toEqual({
        digest: blob.digest,
        status: 200,
        size: blob.size,
      });
    }
    // A real client reads the same manifest.
    const { stdout } = await run(
      'skopeo',
      ['inspect', '--tls-verify=false', '--raw', `docker://${remote.host}/large/large@${image.digest}`],
      {
        encoding: 'buffer',
        maxBuffer: 16 * MiB,
      },
    );
    expect(stdout.equals(image.bytes)).toBe(true);

    // Streamed, not buffered: a single layer held in memory would be 256 MiB.
    const growth = memory.peak - memory.baseline;
    expect(
      growth,
      `RSS ${Math.round(memory.baseline / MiB)} MB before the copy, peak ${Math.round(memory.peak / MiB)} MB during it`,
    ).toBeLessThan(RSS_GROWTH_LIMIT);
  }, 420_000);
});
