import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getManifest, pushImage } from '../../test/helpers/images.js';
import { registryConfig, startRegistry, type TestRegistry } from '../../test/helpers/registry.js';
import { RegistryClient } from '#libs/registry/index.js';
import { KeySigner } from '#libs/signing/index.js';
import { AttestationService } from './attestation.service.js';

describe('AttestationService', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  beforeAll(async () => {
    reg = await startRegistry();
    client = new RegistryClient([registryConfig('r', reg)], { env: {} });
  }, 30_000);
  afterAll(async () => {
    await reg?.stop();
  });

  it('lets writers of one tag take turns, so concurrent attestations all land in .att', async () => {
    const img = await pushImage(reg, 'turns/app', { layers: 1 });
    const service = new AttestationService(client, new KeySigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey));
    const target = { repository: `${reg.host}/turns/app`, digest: img.digest };
    // Each is a read-modify-write of the same `.att` manifest; at once, unserialised, all but one
    // append would be lost.
    const types = ['https://example.test/a/v1', 'https://example.test/b/v1', 'https://example.test/c/v1', 'https://example.test/d/v1'];
    const written = await Promise.all(types.map((t) => service.attest(target, t, { n: t })));
    expect(written.map((w) => w!.status)).toEqual(['added', 'added', 'added', 'added']);
    const att = JSON.parse((await getManifest(reg, 'turns/app', `sha256-${img.digest.slice(7)}.att`)).bytes.toString());
    expect(att.layers.map((l: { annotations: Record<string, string> }) => l.annotations.predicateType).sort()).toEqual(types);
    // A signature beside them (another tag) is not held up by them, and lands too.
    const [signed] = await Promise.all([service.sign(target), service.attest(target, types[0]!, { n: types[0] })]);
    expect(signed!.status).toBe('added');
  });
});
