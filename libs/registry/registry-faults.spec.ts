import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobStatus, getBlob, getManifest, pushImage } from '../../test/helpers/images.js';
import {
  faultProxy,
  registryConfig,
  startRegistry,
  type FaultProxy,
  type ProxyRequest,
  type TestRegistry,
} from '../../test/helpers/registry.js';
import { RegistryClient } from './index.js';

const FAST = { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 };
const isBlobGet = (r: ProxyRequest) => r.method === 'GET' && r.url.includes('/blobs/sha256:');
const isManifestGet = (r: ProxyRequest) => r.method === 'GET' && r.url.includes('/manifests/');

describe('retries, integrity and auth', () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let secured: TestRegistry;
  const proxies: FaultProxy[] = [];

  beforeAll(async () => {
    [a, b, secured] = await Promise.all([
      startRegistry(),
      startRegistry(),
      startRegistry({ auth: 'htpasswd', username: 'ci', password: 'right-password' }),
    ]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), secured?.stop(), ...proxies.map((p) => p.stop())]);
  });

  async function viaProxy(plan: Parameters<typeof faultProxy>[1], retries = FAST) {
    const proxy = await faultProxy(a.url, plan);
    proxies.push(proxy);
    const client = new RegistryClient([registryConfig('src', proxy), registryConfig('b', b)], { env: {}, retries });
    return { proxy, client };
  }

  it('retries 503 answers and then succeeds', async () => {
    const img = await pushImage(a, 'faults/503', { layers: 2 });
    const { proxy, client } = await viaProxy([
      { match: isBlobGet, times: 2, fault: { type: 'status', status: 503 } },
      { match: isManifestGet, times: 1, fault: { type: 'status', status: 502 } },
    ]);
    const result = await client.copy(
      { registry: 'src', repository: 'faults/503', digest: img.digest },
      { registry: 'b', repository: 'faults/503', tags: ['ok'] },
    );
    expect(result.blobsCopied).toBe(3);
    expect(proxy.requests.filter((r) => r.fault !== null)).toHaveLength(3);
    expect((await getManifest(b, 'faults/503', 'ok')).digest).toBe(img.digest);
  });

  it('waits out Retry-After on 429 (seconds and HTTP date)', async () => {
    const img = await pushImage(a, 'faults/429', { layers: 1 });
    const { proxy, client } = await viaProxy([
      { match: isManifestGet, times: 1, fault: { type: 'status', status: 429, headers: { 'retry-after': '1' } } },
      {
        match: isBlobGet,
        times: 1,
        fault: { type: 'status', status: 429, headers: { 'retry-after': new Date(Date.now() + 2_000).toUTCString() } },
      },
    ]);
    const started = Date.now();
    await client.copy({ registry: 'src', repository: 'faults/429', digest: img.digest }, { registry: 'b', repository: 'faults/429' });
    const limited = proxy.requests.filter((r) => r.fault === 0);
    const retried = proxy.requests.find((r) => r.fault === null && isManifestGet(r) && r.at >= limited[0]!.at);
    expect(retried!.at - limited[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(await blobStatus(b, 'faults/429', img.layers[0]!.digest)).toBe(200);
  }, 15_000);

  it('gives up after the configured attempts with a retryable unavailable error', async () => {
    const img = await pushImage(a, 'faults/down', { layers: 1 });
    const { proxy, client } = await viaProxy([{ match: isManifestGet, fault: { type: 'status', status: 503 } }], {
      attempts: 3,
      baseDelayMs: 5,
      maxDelayMs: 10,
    });
    const err = await client
      .copy({ registry: 'src', repository: 'faults/down', digest: img.digest }, { registry: 'b', repository: 'faults/down' })
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'unavailable', status: 503, retryable: true });
    expect(proxy.requests.filter(isManifestGet)).toHaveLength(3);
  });

  it('retries dropped connections', async () => {
    const img = await pushImage(a, 'faults/drop', { layers: 2 });
    const { proxy, client } = await viaProxy([
      { match: isManifestGet, times: 1, fault: { type: 'drop' } },
      { match: isBlobGet, times: 2, fault: { type: 'drop' } },
    ]);
    const result = await client.copy(
      { registry: 'src', repository: 'faults/drop', digest: img.digest },
      { registry: 'b', repository: 'faults/drop' },
    );
    expect(result.blobsCopied).toBe(3);
    expect(proxy.requests.filter((r) => r.fault !== null)).toHaveLength(3);
  });

  it('times out a registry that accepts connections and never answers', async () => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    try {
      const client = new RegistryClient([registryConfig('silent', { url: `http://${host}`, host })], {
        env: {},
        timeoutMs: 200,
        retries: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      });
      const started = Date.now();
      await expect(client.resolve(`${host}/x/y:1`)).rejects.toMatchObject({
        code: 'unavailable',
        retryable: true,
        message: expect.stringContaining('timed out'),
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      expect(sockets.size).toBeGreaterThanOrEqual(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('restarts a blob from scratch when the source connection drops mid-stream', async () => {
    const img = await pushImage(a, 'faults/cut', { layers: 1, layerSize: 500_000, gzip: false });
    const layer = img.layers[0]!;
    const { proxy, client } = await viaProxy([
      { match: (r) => r.url.includes(`/blobs/${layer.digest}`), times: 1, fault: { type: 'cut', after: 100_000 } },
    ]);
    const result = await client.copy(
      { registry: 'src', repository: 'faults/cut', digest: img.digest },
      { registry: 'b', repository: 'faults/cut' },
    );
    expect(result.blobsCopied).toBe(2);
    expect(proxy.requests.filter((r) => r.url.includes(`/blobs/${layer.digest}`))).toHaveLength(2);
    expect((await getBlob(b, 'faults/cut', layer.digest)).bytes.equals((await getBlob(a, 'faults/cut', layer.digest)).bytes)).toBe(true);
  });

  it.each([
    ['monolithic PUT', 'PUT', 1 << 30],
    ['chunked PATCH', 'PATCH', 64 * 1024],
  ])('never replays a consumed upload body (%s): the upload starts over', async (_, method, chunkThreshold) => {
    const img = await pushImage(a, `faults/replay-${method.toLowerCase()}`, { layers: 1, layerSize: 200_000, gzip: false });
    const target = await faultProxy(b.url, [
      { match: (r) => r.method === method && r.url.includes('/blobs/uploads/'), times: 1, fault: { type: 'drop' } },
    ]);
    proxies.push(target);
    const client = new RegistryClient([registryConfig('a', a), registryConfig('t', target)], {
      env: {},
      retries: FAST,
      chunkThreshold,
      chunkSize: 64 * 1024,
    });
    const repo = `faults/replay-${method.toLowerCase()}`;
    await client.copy({ registry: 'a', repository: repo, digest: img.digest }, { registry: 't', repository: repo });
    const uploads = target.requests.filter((r) => r.url.includes('/blobs/uploads/'));
    const dropped = uploads.findIndex((r) => r.fault === 0);
    // The abandoned session is cancelled and a new one opened; nothing is sent to the old one again.
    const session = uploads[dropped]!.url.split('?')[0];
    expect(
      uploads
        .slice(dropped + 1)
        .filter((r) => r.url.startsWith(session!))
        .map((r) => r.method),
    ).toEqual(['DELETE']);
    // Two blobs (config and layer), one of them opened twice.
    expect(uploads.filter((r) => r.method === 'POST')).toHaveLength(3);
    expect((await getManifest(b, repo, img.digest)).bytes.equals(img.bytes)).toBe(true);
    for (const l of img.layers)
      expect((await getBlob(b, repo, l.digest)).bytes.equals((await getBlob(a, repo, l.digest)).bytes)).toBe(true);
  });

  it('refuses a blob whose bytes do not match its digest and leaves nothing in the target', async () => {
    const img = await pushImage(a, 'faults/corrupt', { layers: 1, layerSize: 200_000, gzip: false });
    const layer = img.layers[0]!;
    const { client } = await viaProxy([{ match: (r) => r.url.includes(`/blobs/${layer.digest}`), fault: { type: 'corrupt' } }]);
    const err = await client
      .copy({ registry: 'src', repository: 'faults/corrupt', digest: img.digest }, { registry: 'b', repository: 'faults/corrupt' })
      .catch((e) => e);
    // Caught by the client while streaming (the registry's own check would say DIGEST_INVALID).
    expect(err).toMatchObject({ code: 'digest_mismatch', retryable: false, message: expect.stringContaining('blob bytes hash to') });
    expect(await blobStatus(b, 'faults/corrupt', layer.digest)).toBe(404);
    expect((await getManifest(b, 'faults/corrupt', img.digest)).status).toBe(404);
  });

  it('refuses the same with chunked uploads', async () => {
    const img = await pushImage(a, 'faults/corrupt-chunked', { layers: 1, layerSize: 300_000, gzip: false });
    const layer = img.layers[0]!;
    const proxy = await faultProxy(a.url, [
      { match: (r) => r.url.includes(`/blobs/${layer.digest}`), fault: { type: 'corrupt', offset: layer.size - 10 } },
    ]);
    proxies.push(proxy);
    const client = new RegistryClient([registryConfig('src', proxy), registryConfig('b', b)], {
      env: {},
      retries: FAST,
      chunkThreshold: 64 * 1024,
      chunkSize: 64 * 1024,
    });
    const err = await client
      .copy(
        { registry: 'src', repository: 'faults/corrupt-chunked', digest: img.digest },
        { registry: 'b', repository: 'faults/corrupt-chunked' },
      )
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'digest_mismatch', message: expect.stringContaining('blob bytes hash to') });
    expect(await blobStatus(b, 'faults/corrupt-chunked', layer.digest)).toBe(404);
  });

  it('refuses a manifest fetched by digest whose bytes hash to something else', async () => {
    const img = await pushImage(a, 'faults/manifest', { layers: 1 });
    const { client } = await viaProxy([{ match: isManifestGet, fault: { type: 'corrupt', offset: 5 } }]);
    await expect(client.getManifest({ registry: 'src', repository: 'faults/manifest' }, img.digest)).rejects.toMatchObject({
      code: 'digest_mismatch',
    });
    await expect(
      client.copy({ registry: 'src', repository: 'faults/manifest', digest: img.digest }, { registry: 'b', repository: 'faults/manifest' }),
    ).rejects.toMatchObject({ code: 'digest_mismatch' });
    expect(await blobStatus(b, 'faults/manifest', img.config.digest)).toBe(404);
  });

  it('copies with chunked PATCH uploads when blobs pass the threshold', async () => {
    const img = await pushImage(a, 'faults/chunked', { layers: 2, layerSize: 400_000, gzip: false });
    const target = await faultProxy(b.url, []);
    proxies.push(target);
    const client = new RegistryClient([registryConfig('a', a), registryConfig('t', target)], {
      env: {},
      chunkThreshold: 100_000,
      chunkSize: 128 * 1024,
    });
    const result = await client.copy(
      { registry: 'a', repository: 'faults/chunked', digest: img.digest },
      { registry: 't', repository: 'faults/chunked' },
    );
    expect(result.blobsCopied).toBe(3);
    const patches = target.requests.filter((r) => r.method === 'PATCH');
    expect(patches.length).toBe(img.layers.reduce((n, l) => n + Math.ceil(l.size / (128 * 1024)), 0));
    expect(patches[0]!.headers['content-range']).toBe(`0-${128 * 1024 - 1}`);
    expect((await getManifest(b, 'faults/chunked', img.digest)).bytes.equals(img.bytes)).toBe(true);
  });

  it('spaces requests by the registry rate limit', async () => {
    const img = await pushImage(a, 'faults/rate', { layers: 3 });
    const proxy = await faultProxy(a.url, []);
    proxies.push(proxy);
    const client = new RegistryClient([registryConfig('src', proxy, { rateLimit: 5 }), registryConfig('b', b)], { env: {} });
    // The proxy's arrival times say what the limit did, whatever the machine's load: at 5/s with a
    // burst of 5, n requests take at least (n - 5) / 5 s from the first. (Timing only the resolves
    // after the copy passed or failed with load: a slow copy let the bucket refill meanwhile.)
    await client.copy({ registry: 'src', repository: 'faults/rate', digest: img.digest }, { registry: 'b', repository: 'faults/rate' });
    for (let i = 0; i < 5; i++) await client.resolve(`${proxy.host}/faults/rate@${img.digest}`);
    const times = proxy.requests.map((r) => r.at);
    expect(times.length).toBeGreaterThanOrEqual(10);
    // A quarter of slack for the first request's own travel time, which shortens the measured span.
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual((((times.length - 5) * 1000) / 5) * 0.75);
  });

  describe('basic auth (htpasswd)', () => {
    it('answers the Basic challenge with credentials from the environment', async () => {
      const img = await pushImage(secured, 'auth/app', { layers: 1, tag: 'v1' });
      const client = new RegistryClient(
        [
          registryConfig('sec', secured, { auth: { type: 'basic', usernameEnv: 'REG_USER', passwordEnv: 'REG_PASS' } }),
          registryConfig('b', b),
        ],
        { env: { REG_USER: 'ci', REG_PASS: 'right-password' } },
      );
      expect((await client.resolve(`${secured.host}/auth/app:v1`)).digest).toBe(img.digest);
      await client.copy(
        { registry: 'sec', repository: 'auth/app', digest: img.digest },
        { registry: 'sec', repository: 'auth/promoted', tags: ['v1'] },
      );
      await client.copy({ registry: 'sec', repository: 'auth/app', digest: img.digest }, { registry: 'b', repository: 'auth/app' });
      expect((await getManifest(secured, 'auth/promoted', 'v1')).digest).toBe(img.digest);
      expect((await getManifest(b, 'auth/app', img.digest)).status).toBe(200);
    });

    it('reads credentials from a docker config.json (auth and username/password forms)', async () => {
      const img = await pushImage(secured, 'auth/docker-config', { layers: 1, tag: 'v1' });
      const dir = await mkdtemp(join(tmpdir(), 'dockercfg-'));
      try {
        const encoded = Buffer.from('ci:right-password').toString('base64');
        await writeFile(join(dir, 'a.json'), JSON.stringify({ auths: { [`http://${secured.host}/v2/`]: { auth: encoded } } }));
        await writeFile(join(dir, 'b.json'), JSON.stringify({ auths: { [secured.host]: { username: 'ci', password: 'right-password' } } }));
        for (const file of ['a.json', 'b.json']) {
          const client = new RegistryClient([registryConfig('sec', secured, { auth: { type: 'dockerConfig', path: join(dir, file) } })], {
            env: {},
          });
          expect((await client.resolve(`${secured.host}/auth/docker-config:v1`)).digest).toBe(img.digest);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('fails with unauthorized, not retryable, on a wrong password or none', async () => {
      await pushImage(secured, 'auth/denied', { layers: 1, tag: 'v1' });
      const wrong = new RegistryClient([registryConfig('sec', secured, { auth: { type: 'basic', usernameEnv: 'U', passwordEnv: 'P' } })], {
        env: { U: 'ci', P: 'wrong-password' },
      });
      await expect(wrong.resolve(`${secured.host}/auth/denied:v1`)).rejects.toMatchObject({
        code: 'unauthorized',
        status: 401,
        retryable: false,
      });
      const anonymous = new RegistryClient([registryConfig('sec', secured)], { env: {} });
      await expect(anonymous.resolve(`${secured.host}/auth/denied:v1`)).rejects.toMatchObject({ code: 'unauthorized' });
      const unset = new RegistryClient([registryConfig('sec', secured, { auth: { type: 'basic', usernameEnv: 'U', passwordEnv: 'P' } })], {
        env: {},
      });
      await expect(unset.resolve(`${secured.host}/auth/denied:v1`)).rejects.toThrow(/U and P must be set/);
    });
  });
});
