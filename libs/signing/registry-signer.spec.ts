import { generateKeyPairSync, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getBlob,
  getManifest,
  MT,
  pushBlob,
  pushCosignAttachment,
  pushImage,
  pushManifest,
  pushReferrer,
  pushReferrersTag,
  sha256,
} from '../../test/helpers/images.js';
import { registryConfig, startRegistry, type TestRegistry } from '../../test/helpers/registry.js';
import { RegistryClient } from '#libs/registry/index.js';
import { CYCLONEDX_PREDICATE_TYPE, parseDsseEnvelope, parseInTotoStatement, simpleSigningPayload } from './formats.js';
import { RegistrySigner } from './registry-signer.js';
import { KeySigner } from './signer.js';

describe('RegistrySigner against a real registry', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  const keyA = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyB = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  beforeAll(async () => {
    reg = await startRegistry();
    client = new RegistryClient([registryConfig('r', reg)], { env: {} });
  }, 30_000);
  afterAll(async () => {
    await reg?.stop();
  });

  const json = async (repo: string, ref: string) => JSON.parse((await getManifest(reg, repo, ref)).bytes.toString());

  it('appends to a .sig written by someone else, once per key', async () => {
    const img = await pushImage(reg, 'sig/app', { layers: 1 });
    const theirs = await pushCosignAttachment(reg, 'sig/app', img.digest, 'sig');
    const image = { registry: 'r', repository: 'sig/app', digest: img.digest, name: `${reg.host}/sig/app` };

    const a = new RegistrySigner(client, new KeySigner(keyA.privateKey));
    expect((await a.sign(image)).status).toBe('added');
    expect((await a.sign(image)).status).toBe('present');
    const b = new RegistrySigner(client, new KeySigner(keyB.privateKey));
    expect((await b.sign(image)).status).toBe('added');

    const sig = await json('sig/app', theirs.tag);
    expect(sig.layers).toHaveLength(3);
    expect(sig.layers[0]).toEqual(theirs.layer);
    const payload = simpleSigningPayload(`${reg.host}/sig/app`, img.digest);
    // Same payload, two keys: each layer's signature verifies under its own key only.
    expect(sig.layers[1].digest).toBe(sha256(payload));
    expect(
      verify('sha256', payload, keyA.publicKey, Buffer.from(sig.layers[1].annotations['dev.cosignproject.cosign/signature'], 'base64')),
    ).toBe(true);
    expect(
      verify('sha256', payload, keyB.publicKey, Buffer.from(sig.layers[2].annotations['dev.cosignproject.cosign/signature'], 'base64')),
    ).toBe(true);
    const config = JSON.parse((await getBlob(reg, 'sig/app', sig.config.digest)).bytes.toString());
    expect(config.rootfs.diff_ids).toEqual(sig.layers.map((l: { digest: string }) => l.digest));
    expect(config.history).toHaveLength(3);
  });

  it("refuses to grow a .sig that already holds cosign's 1000-layer limit", async () => {
    const img = await pushImage(reg, 'sig/full', { layers: 1 });
    const payload = simpleSigningPayload('x/y', img.digest);
    await pushBlob(reg, 'sig/full', payload);
    const config = Buffer.from('{}');
    await pushBlob(reg, 'sig/full', config);
    const layer = {
      mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      digest: sha256(payload),
      size: payload.length,
      annotations: { 'dev.cosignproject.cosign/signature': 'AA==' },
    };
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, digest: sha256(config), size: 2 },
        layers: Array(1000).fill(layer),
      }),
    );
    const tag = `sha256-${img.digest.slice(7)}.sig`;
    const before = await pushManifest(reg, 'sig/full', tag, bytes, MT.ociManifest);
    const signer = new RegistrySigner(client, new KeySigner(keyA.privateKey));
    await expect(signer.sign({ registry: 'r', repository: 'sig/full', digest: img.digest })).rejects.toThrow(/1000 layers/);
    expect((await getManifest(reg, 'sig/full', tag)).digest).toBe(before);
  });

  it("attests any predicate (a CycloneDX SBOM), keeps others' referrers in the fallback index, and is idempotent per statement", async () => {
    const img = await pushImage(reg, 'att/app', { layers: 1 });
    const other = await pushReferrer(
      reg,
      'att/app',
      { mediaType: img.mediaType, digest: img.digest, size: img.size },
      'application/example',
    );
    await pushReferrersTag(reg, 'att/app', img.digest, [other]);
    const image = { registry: 'r', repository: 'att/app', digest: img.digest };
    const signer = new RegistrySigner(client, new KeySigner(keyA.privateKey));
    const sbom = { bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ name: 'openssl', version: '3.0.15' }] };

    const first = await signer.attest(image, CYCLONEDX_PREDICATE_TYPE, sbom);
    expect(first).toMatchObject({ status: 'added', predicateType: CYCLONEDX_PREDICATE_TYPE, referrer: { listedBy: 'fallback-tag' } });
    const again = await signer.attest(image, CYCLONEDX_PREDICATE_TYPE, sbom);
    expect(again).toMatchObject({
      status: 'present',
      envelopeDigest: first.envelopeDigest,
      manifestDigest: first.manifestDigest,
      referrer: first.referrer,
    });
    const changed = await signer.attest(image, CYCLONEDX_PREDICATE_TYPE, { ...sbom, components: [] });
    expect(changed.status).toBe('added');

    const att = await json('att/app', `sha256-${img.digest.slice(7)}.att`);
    expect(att.layers).toHaveLength(2);
    const statement = parseInTotoStatement(
      Buffer.from(parseDsseEnvelope((await getBlob(reg, 'att/app', att.layers[0].digest)).bytes).payload, 'base64'),
    );
    expect(statement).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'r/att/app', digest: { sha256: img.digest.slice(7) } }],
      predicateType: CYCLONEDX_PREDICATE_TYPE,
      predicate: sbom,
    });

    const index = await json('att/app', `sha256-${img.digest.slice(7)}`);
    expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([
      other.digest,
      first.referrer.digest,
      changed.referrer.digest,
    ]);
  });
});
