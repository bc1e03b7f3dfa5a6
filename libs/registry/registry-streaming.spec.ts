import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getManifest, pushImage, pushIndex, pushLargeImage } from '../../test/helpers/images.js';
import { registryConfig, startRegistry, type TestRegistry } from '../../test/helpers/registry.js';
import { RegistryClient } from './index.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

async function streamDigest(url: string): Promise<{ digest: string; size: number }> {
  const res = await fetch(url);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of res.body!) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: 'sha256:' + hash.digest('hex'), size };
}

describe('streaming copies and interoperability', () => {
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

  it('copies a 256 MiB image across registries with flat memory', async () => {
    const img = await pushLargeImage(a, 'big/app', { layers: 4, layerSize: 64 * MiB + 4096, tag: 'v1' });
    const total = img.layers.reduce((n, l) => n + l.size, 0);
    expect(total).toBeGreaterThan(256 * MiB);

    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
    try {
      const result = await client.copy(
        { registry: 'a', repository: 'big/app', digest: img.digest },
        { registry: 'b', repository: 'big/app', tags: ['v1'] },
      );
      expect(result).toMatchObject({ digest: img.digest, blobsCopied: 5, bytesCopied: total + img.config.size });
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(peak - before).toBeLessThan(150 * MiB);

    expect((await getManifest(b, 'big/app', 'v1')).bytes.equals(img.bytes)).toBe(true);
    for (const layer of img.layers) {
      expect(await streamDigest(`${b.url}/v2/big/app/blobs/${layer.digest}`)).toEqual({ digest: layer.digest, size: layer.size });
    }
  }, 90_000);

  it('reports progress while it copies: blobs and bytes done and known, bytes as they stream', async () => {
    const img = await pushImage(a, 'progress/app', { layers: 3, layerSize: 2 * MiB, tag: 'v1' });
    const total = img.layers.reduce((n, l) => n + l.size, 0) + img.config.size;
    const seen: { blobsDone: number; blobsTotal: number; bytesDone: number; bytesTotal: number }[] = [];
    await client.copy(
      { registry: 'a', repository: 'progress/app', digest: img.digest },
      { registry: 'b', repository: 'progress/app' },
      { onProgress: (p) => seen.push(p) },
    );
    expect(seen.at(-1)).toEqual({ blobsDone: 4, blobsTotal: 4, bytesDone: total, bytesTotal: total });
    expect(seen.every((p) => p.bytesDone <= p.bytesTotal && p.blobsDone <= p.blobsTotal)).toBe(true);
    // Bytes are counted as they stream, not only when a blob is finished.
    expect(seen.some((p) => p.bytesDone > 0 && p.bytesDone < total && !img.layers.some((l) => l.size === p.bytesDone))).toBe(true);
    const streaming = seen.filter((p) => p.blobsTotal === 4);
    expect(streaming.every((p, i) => i === 0 || p.bytesDone >= streaming[i - 1]!.bytesDone)).toBe(true);

    // Blobs the target holds (here: all of them) count as done.
    const again: typeof seen = [];
    await client.copy(
      { registry: 'a', repository: 'progress/app', digest: img.digest },
      { registry: 'b', repository: 'progress/app' },
      { onProgress: (p) => again.push(p) },
    );
    expect(again).toEqual([]);
    await client.copy(
      { registry: 'b', repository: 'progress/app', digest: img.digest },
      { registry: 'b', repository: 'progress/other' },
      { onProgress: (p) => again.push(p) },
    );
    expect(again.at(-1)).toEqual({ blobsDone: 4, blobsTotal: 4, bytesDone: total, bytesTotal: total });
  });

  it('leaves images that skopeo can inspect and copy', async () => {
    const img = await pushImage(a, 'skopeo/app', { layers: 2, format: 'docker' });
    const index = await pushIndex(a, 'skopeo/multi');
    await client.copy(
      { registry: 'a', repository: 'skopeo/app', digest: img.digest },
      { registry: 'b', repository: 'skopeo/app', tags: ['v1'] },
    );
    await client.copy(
      { registry: 'a', repository: 'skopeo/multi', digest: index.digest },
      { registry: 'b', repository: 'skopeo/multi', tags: ['v1'] },
    );

    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${b.host}/skopeo/app@${img.digest}`]);
    const inspected = JSON.parse(stdout) as { Digest: string; Layers: string[]; Architecture: string };
    expect(inspected.Digest).toBe(img.digest);
    expect(inspected.Layers).toEqual(img.layers.map((l) => l.digest));
    const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${b.host}/skopeo/multi:v1`]);
    expect(Buffer.from(raw.stdout).equals(index.bytes)).toBe(true);

    const dir = await mkdtemp(join(tmpdir(), 'skopeo-'));
    try {
      await run('skopeo', [
        '--insecure-policy',
        'copy',
        '--src-tls-verify=false',
        `docker://${b.host}/skopeo/app@${img.digest}`,
        `dir:${join(dir, 'one')}`,
      ]);
      expect((await readFile(join(dir, 'one', 'manifest.json'))).equals(img.bytes)).toBe(true);
      await run('skopeo', [
        '--insecure-policy',
        'copy',
        '--all',
        '--src-tls-verify=false',
        `docker://${b.host}/skopeo/multi@${index.digest}`,
        `dir:${join(dir, 'all')}`,
      ]);
      const files = await readdir(join(dir, 'all'));
      for (const child of index.children) for (const l of child.layers) expect(files).toContain(l.digest.slice(7));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
