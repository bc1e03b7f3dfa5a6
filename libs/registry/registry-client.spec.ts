import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobStatus, getBlob, getManifest, MT, pushImage, pushIndex, sha256, pushBlob } from '../../test/helpers/images.js';
import { faultProxy, registryConfig, startRegistry, type TestRegistry } from '../../test/helpers/registry.js';
import { RegistryClient, RegistryError } from './index.js';

describe('RegistryClient against docker-registry', () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let client: RegistryClient;

  beforeAll(async () => {
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    client = new RegistryClient([registryConfig('a', a), registryConfig('b', b)], { env: {} });
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('mounts blobs when copying within one registry; the target digest is the source digest', async () => {
    const img = await pushImage(a, 'dev/app', { layers: 3, tag: 'v1' });
    const result = await client.copy(
      { registry: a.host, repository: 'dev/app', digest: img.digest },
      { registry: 'a', repository: 'staging/app', tags: ['v1'] },
    );

    expect(result).toMatchObject({
      digest: img.digest,
      mediaType: MT.ociManifest,
      blobsMounted: 4,
      blobsCopied: 0,
      bytesCopied: 0,
      blobsSkipped: 0,
    });
    const copied = await getManifest(a, 'staging/app', 'v1');
    expect(copied.digest).toBe(img.digest);
    expect(copied.bytes.equals(img.bytes)).toBe(true);
    for (const l of img.layers) expect(await blobStatus(a, 'staging/app', l.digest)).toBe(200);
  });

  it('streams blobs across registries: same bytes, same digests', async () => {
    const img = await pushImage(a, 'dev/cross', { layers: 2, layerSize: 300_000 });
    const result = await client.copy(
      { registry: 'a', repository: 'dev/cross', digest: img.digest },
      { registry: 'b', repository: 'prod/cross', tags: ['1.0'] },
    );

    expect(result.blobsCopied).toBe(3);
    expect(result.blobsMounted).toBe(0);
    expect(result.bytesCopied).toBe(img.config.size + img.layers.reduce((n, l) => n + l.size, 0));
    const copied = await getManifest(b, 'prod/cross', img.digest);
    expect(copied.bytes.equals(img.bytes)).toBe(true);
    for (const l of [img.config, ...img.layers]) {
      const [src, dst] = await Promise.all([getBlob(a, 'dev/cross', l.digest), getBlob(b, 'prod/cross', l.digest)]);
      expect(dst.bytes.equals(src.bytes)).toBe(true);
      expect(sha256(dst.bytes)).toBe(l.digest);
    }
  });

  it.each(['oci', 'docker'] as const)('keeps %s media types and bytes exactly', async (format) => {
    const img = await pushImage(a, `dev/${format}`, { format, layers: 1 });
    const result = await client.copy(
      { registry: 'a', repository: `dev/${format}`, digest: img.digest },
      { registry: 'b', repository: `prod/${format}`, tags: ['x'] },
    );

    const expected = format === 'oci' ? MT.ociManifest : MT.dockerManifest;
    expect(result.mediaType).toBe(expected);
    for (const ref of [img.digest, 'x']) {
      const copied = await getManifest(b, `prod/${format}`, ref);
      expect(copied.mediaType).toBe(expected);
      expect(copied.bytes.equals(img.bytes)).toBe(true);
      expect(copied.digest).toBe(img.digest);
    }
  });

  it.each(['oci', 'docker'] as const)('copies a multi-arch %s index whole, children first', async (format) => {
    const index = await pushIndex(a, `dev/multi-${format}`, { format, tag: 'latest' });
    const result = await client.copy(
      { registry: 'a', repository: `dev/multi-${format}`, digest: index.digest },
      { registry: 'b', repository: `prod/multi-${format}`, tags: ['latest'] },
    );

    expect(result.digest).toBe(index.digest);
    expect(result.mediaType).toBe(format === 'oci' ? MT.ociIndex : MT.dockerList);
    expect(
      result.manifests
        .slice(0, 2)
        .map((m) => m.digest)
        .sort(),
    ).toEqual(index.children.map((c) => c.digest).sort());
    expect(result.manifests.at(-1)).toMatchObject({ digest: index.digest, status: 'copied' });
    expect(result.blobsCopied).toBe(6);
    for (const child of index.children) {
      const copied = await getManifest(b, `prod/multi-${format}`, child.digest);
      expect(copied.bytes.equals(child.bytes)).toBe(true);
      for (const l of child.layers) expect(await blobStatus(b, `prod/multi-${format}`, l.digest)).toBe(200);
    }
    const top = await getManifest(b, `prod/multi-${format}`, 'latest');
    expect(top.bytes.equals(index.bytes)).toBe(true);
  });

  it('is idempotent: a second copy skips everything and sends no blob', async () => {
    const index = await pushIndex(a, 'dev/again');
    const src = { registry: 'a', repository: 'dev/again', digest: index.digest };
    const dst = { registry: 'b', repository: 'prod/again', tags: ['v2', 'stable'] };
    const first = await client.copy(src, dst);
    expect(first.manifests.filter((m) => m.status === 'copied')).toHaveLength(3);
    expect(first.tags).toEqual([
      { tag: 'v2', status: 'set' },
      { tag: 'stable', status: 'set' },
    ]);

    const second = await client.copy(src, dst);
    expect(second).toMatchObject({ digest: index.digest, bytesCopied: 0, blobsCopied: 0, blobsMounted: 0 });
    expect(second.manifests).toEqual([{ digest: index.digest, mediaType: MT.ociIndex, status: 'skipped' }]);
    expect(second.tags).toEqual([
      { tag: 'v2', status: 'unchanged' },
      { tag: 'stable', status: 'unchanged' },
    ]);
  });

  it('skips blobs the target already has and moves a tag to the new digest', async () => {
    const one = await pushImage(a, 'dev/move', { layers: 1 });
    const two = await pushImage(a, 'dev/move', { layers: 1 });
    await client.copy(
      { registry: 'a', repository: 'dev/move', digest: one.digest },
      { registry: 'b', repository: 'prod/move', tags: ['current'] },
    );
    await client.copy(
      { registry: 'a', repository: 'dev/move', digest: two.digest },
      { registry: 'b', repository: 'prod/move', tags: ['current'] },
    );
    expect((await getManifest(b, 'prod/move', 'current')).digest).toBe(two.digest);
    // The first image is still there by digest.
    expect((await getManifest(b, 'prod/move', one.digest)).status).toBe(200);
  });

  it('counts blobs that are already present as skipped', async () => {
    const img = await pushImage(a, 'dev/partial', { layers: 2 });
    // Put one layer into the target beforehand (raw API), then copy.
    const layer = await getBlob(a, 'dev/partial', img.layers[0]!.digest);
    await pushBlob(b, 'prod/partial', layer.bytes);
    const result = await client.copy(
      { registry: 'a', repository: 'dev/partial', digest: img.digest },
      { registry: 'b', repository: 'prod/partial' },
    );
    expect(result).toMatchObject({ blobsSkipped: 1, blobsCopied: 2 });
  });

  it('resolves a tag and a digest to digest, media type and size', async () => {
    const img = await pushImage(a, 'dev/resolve', { tag: '2.1', format: 'docker' });
    expect(await client.resolve(`${a.host}/dev/resolve:2.1`)).toEqual({ digest: img.digest, mediaType: MT.dockerManifest, size: img.size });
    expect(await client.resolve({ registry: 'a', repository: 'dev/resolve', tag: null, digest: img.digest })).toMatchObject({
      digest: img.digest,
    });
    await expect(client.resolve(`${a.host}/dev/resolve:missing`)).rejects.toMatchObject({ code: 'not_found' });
    await expect(client.resolve(`${a.host}/dev/nothing-here:1`)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('falls back to a normal upload when a mount is answered with an upload session (202)', async () => {
    const proxy = await faultProxy(a.url, [{ fault: { type: 'rewrite', url: (u) => u.replace(/from=[^&]+/, 'from=does%2Fnot-exist') } }]);
    try {
      const viaProxy = new RegistryClient([registryConfig('p', proxy)], { env: {} });
      const img = await pushImage(a, 'dev/nomount', { layers: 1 });
      const result = await viaProxy.copy(
        { registry: 'p', repository: 'dev/nomount', digest: img.digest },
        { registry: 'p', repository: 'staging/nomount' },
      );
      expect(result).toMatchObject({ blobsMounted: 0, blobsCopied: 2 });
      const posts = proxy.requests.filter((r) => r.method === 'POST');
      expect(posts.every((r) => r.url.includes('mount='))).toBe(true);
      expect((await getManifest(a, 'staging/nomount', img.digest)).bytes.equals(img.bytes)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses a host that is not configured before sending anything', async () => {
    const proxy = await faultProxy(a.url, []);
    try {
      const img = await pushImage(a, 'dev/ssrf', { layers: 1 });
      const attempts = [
        () => client.resolve(`${proxy.host}/dev/ssrf@${img.digest}`),
        () => client.copy({ registry: proxy.host, repository: 'dev/ssrf', digest: img.digest }, { registry: 'b', repository: 'x/ssrf' }),
        () => client.copy({ registry: 'a', repository: 'dev/ssrf', digest: img.digest }, { registry: proxy.host, repository: 'x/ssrf' }),
        () => client.getManifest({ registry: 'evil.example.com', repository: 'x' }, 'latest'),
      ];
      for (const attempt of attempts) {
        const err = await attempt().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RegistryError);
        expect(err).toMatchObject({ code: 'unknown_registry', retryable: false });
      }
      expect(proxy.requests).toHaveLength(0);
      // Nothing of the image reached b either (the third attempt failed before any copy).
      expect((await getManifest(b, 'x/ssrf', img.digest)).status).toBe(404);
    } finally {
      await proxy.stop();
    }
  });

  it('rejects names that would escape the API path', async () => {
    await expect(client.getManifest({ registry: 'a', repository: '../../v2/_catalog' }, 'latest')).rejects.toMatchObject({
      code: 'protocol',
    });
    await expect(client.getManifest({ registry: 'a', repository: 'dev/app' }, 'a?b')).rejects.toMatchObject({ code: 'protocol' });
  });
});
