import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blobStatus,
  getBlob,
  getManifest,
  MT,
  pushCosignAttachment,
  pushImage,
  pushReferrer,
  pushReferrersTag,
} from '../../test/helpers/images.js';
import { faultProxy, registryConfig, startRegistry, type TestRegistry } from '../../test/helpers/registry.js';
import { RegistryClient } from './index.js';

describe('copyAttachments', () => {
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

  it('copies .sig, .att and the referrers fallback tag with their blobs and referrers', async () => {
    const img = await pushImage(a, 'att/app', { layers: 1 });
    const sig = await pushCosignAttachment(a, 'att/app', img.digest, 'sig');
    const att = await pushCosignAttachment(a, 'att/app', img.digest, 'att');
    const referrer = await pushReferrer(a, 'att/app', { mediaType: img.mediaType, digest: img.digest, size: img.size });
    const fallback = await pushReferrersTag(a, 'att/app', img.digest, [referrer]);
    const src = { registry: 'a', repository: 'att/app', digest: img.digest };
    await client.copy(src, { registry: 'b', repository: 'att/app' });

    const result = await client.copyAttachments(src, { registry: 'b', repository: 'att/app' });
    expect(result.attachments).toEqual([
      { kind: 'signature', tag: sig.tag, digest: sig.digest, status: 'copied' },
      { kind: 'attestation', tag: att.tag, digest: att.digest, status: 'copied' },
      { kind: 'referrers-tag', tag: fallback.tag, digest: fallback.digest, status: 'copied' },
    ]);
    for (const x of [sig, att]) {
      expect((await getManifest(b, 'att/app', x.tag)).digest).toBe(x.digest);
      expect((await getBlob(b, 'att/app', x.layer.digest)).status).toBe(200);
    }
    expect((await getManifest(b, 'att/app', fallback.tag)).bytes.equals(fallback.bytes)).toBe(true);
    expect((await getManifest(b, 'att/app', referrer.digest)).status).toBe(200);

    const again = await client.copyAttachments(src, { registry: 'b', repository: 'att/app' });
    expect(again.attachments.map((x) => x.status)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(again.bytesCopied).toBe(0);
  });

  it('finds nothing to copy for an unsigned image', async () => {
    const img = await pushImage(a, 'att/plain', { layers: 1 });
    const result = await client.copyAttachments(
      { registry: 'a', repository: 'att/plain', digest: img.digest },
      { registry: 'b', repository: 'att/plain' },
    );
    expect(result).toEqual({ attachments: [], bytesCopied: 0, targetReferrersApi: null });
  });

  it('merges a source signature into a target that was signed meanwhile', async () => {
    const img = await pushImage(a, 'att/merge', { layers: 1 });
    const theirs = await pushCosignAttachment(a, 'att/merge', img.digest, 'sig');
    await client.copy({ registry: 'a', repository: 'att/merge', digest: img.digest }, { registry: 'b', repository: 'att/merge' });
    const ours = await pushCosignAttachment(b, 'att/merge', img.digest, 'sig');

    const result = await client.copyAttachments(
      { registry: 'a', repository: 'att/merge', digest: img.digest },
      { registry: 'b', repository: 'att/merge' },
    );
    expect(result.attachments[0]).toMatchObject({ kind: 'signature', status: 'merged' });
    const merged = await getManifest(b, 'att/merge', theirs.tag);
    const json = JSON.parse(merged.bytes.toString()) as { layers: { digest: string }[]; config: { digest: string; size: number } };
    expect(json.layers.map((l) => l.digest)).toEqual([ours.layer.digest, theirs.layer.digest]);
    const config = JSON.parse((await getBlob(b, 'att/merge', json.config.digest)).bytes.toString()) as { rootfs: { diff_ids: string[] } };
    expect(config.rootfs.diff_ids).toEqual([ours.layer.digest, theirs.layer.digest]);
    expect(await blobStatus(b, 'att/merge', theirs.layer.digest)).toBe(200);

    const again = await client.copyAttachments(
      { registry: 'a', repository: 'att/merge', digest: img.digest },
      { registry: 'b', repository: 'att/merge' },
    );
    expect(again.attachments[0]).toMatchObject({ status: 'unchanged', digest: merged.digest });

    const kept = await client.copyAttachments(
      { registry: 'a', repository: 'att/merge', digest: img.digest },
      { registry: 'b', repository: 'att/merge' },
      { conflict: 'overwrite' },
    );
    expect(kept.attachments[0]).toMatchObject({ status: 'copied', digest: theirs.digest });
  });

  it('copies referrers served by the referrers API and records them in the fallback tag of a target without it', async () => {
    const img = await pushImage(a, 'att/api', { layers: 1 });
    const referrer = await pushReferrer(a, 'att/api', { mediaType: img.mediaType, digest: img.digest, size: img.size });
    const answer = JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [referrer] });
    // docker-registry 2.8 has no referrers API: the proxy serves one for the source.
    const proxy = await faultProxy(a.url, [
      {
        match: (r) => r.url.startsWith('/v2/att/api/referrers/'),
        fault: { type: 'status', status: 200, headers: { 'content-type': MT.ociIndex }, body: answer },
      },
    ]);
    try {
      const viaProxy = new RegistryClient([registryConfig('src', proxy), registryConfig('b', b)], { env: {} });
      const result = await viaProxy.copyAttachments(
        { registry: 'src', repository: 'att/api', digest: img.digest },
        { registry: 'b', repository: 'att/api' },
      );
      expect(result.attachments).toEqual([{ kind: 'referrer', tag: null, digest: referrer.digest, status: 'copied' }]);
      expect(result.targetReferrersApi).toBe(false);
      expect((await getManifest(b, 'att/api', referrer.digest)).status).toBe(200);
      const fallback = JSON.parse((await getManifest(b, 'att/api', `sha256-${img.digest.slice(7)}`)).bytes.toString()) as {
        manifests: { digest: string }[];
      };
      expect(fallback.manifests.map((m) => m.digest)).toEqual([referrer.digest]);
    } finally {
      await proxy.stop();
    }
  });
});
