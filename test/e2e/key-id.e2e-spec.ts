import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/cli/src/cli.js';
import { SignatureGate } from '../../apps/worker/src/gates/signature.gate.js';
import { AppConfig, loadProcessConfig, parsePipeline } from '#libs/config/index.js';
import type { PromotionEntity } from '#libs/db/index.js';
import { RegistryClient } from '#libs/registry/index.js';
import { Annotations, KeySigner, readPrivateKey, simpleSigningPayload } from '#libs/signing/index.js';
import { pushImage } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushCosignManifest } from '../helpers/sigstore.js';

// Issue 14: a key's id was base64 in `promoctl keygen`, logs and the API, and sha256:<hex> in the
// gate's summary. One form now (keyIdOf): the same key must read the same everywhere a person compares it.
describe('key ids', () => {
  let reg: TestRegistry;
  const dir = mkdtempSync(join(tmpdir(), 'key-id-'));
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function cli(args: string[], env: Record<string, string> = {}) {
    let stdout = '';
    const code = await runCli(args, { stdout: (t: string) => (stdout += t), stderr: () => {}, env });
    return { code, stdout };
  }

  it('shows a key under the same id in promoctl keygen, the signature gate evidence and promoctl verify', async () => {
    const home = process.cwd();
    process.chdir(dir);
    let generated;
    try {
      generated = await cli(['keygen'], { PROMOTER_KEY_PASSWORD: 'pw' });
    } finally {
      process.chdir(home);
    }
    expect(generated.code).toBe(0);
    const keyId = /^Key id (\S+)$/m.exec(generated.stdout)?.[1];
    expect(keyId).toMatch(/^sha256:[0-9a-f]{64}$/);

    const signer = new KeySigner(await readPrivateKey(readFileSync(join(dir, 'cosign.key'), 'utf8'), 'pw', 'cosign.key'));
    expect(signer.keyId).toBe(keyId);
    const image = await pushImage(reg, 'dev/keyid', { layers: 1 });
    const payload = simpleSigningPayload(`${reg.host}/dev/keyid`, image.digest);
    await pushCosignManifest(reg, 'dev/keyid', image.digest, 'sig', [
      { blob: payload, annotations: { [Annotations.signature]: (await signer.sign(payload)).toString('base64') } },
    ]);

    const file = join(dir, 'promoter.yaml');
    writeFileSync(
      file,
      `registries:\n  - name: src\n    url: ${reg.url}\nenvironments:\n  - name: dev\n    repository: src/dev/{app}\n` +
        `  - name: staging\n    from: dev\n    repository: src/staging/{app}\n    gates:\n      signature: { keys: [cosign.pub] }\n`,
    );
    const config = new AppConfig(loadProcessConfig({ PROMOTER_CONFIG: file }), parsePipeline(readFileSync(file, 'utf8'), file), {});
    const gate = new SignatureGate(config, new RegistryClient(config.pipeline.registries, { env: {}, retries: { attempts: 1 } }));
    const environment = config.environment('staging')!;
    const verdict = await gate.evaluate({
      promotion: {
        id: 'p',
        repository: `${reg.host}/dev/keyid`,
        digest: image.digest,
        image: `${reg.host}/dev/keyid@${image.digest}`,
      } as PromotionEntity,
      image: { registry: reg.host, repository: 'dev/keyid', digest: image.digest },
      environment,
      options: environment.gates.signature!,
      signal: new AbortController().signal,
    });
    expect(verdict.status).toBe('passed');
    expect(verdict.evidence.signers).toEqual([{ kind: 'key', keyId, fingerprint: keyId, source: 'cosign.pub' }]);
    expect(verdict.summary).toBe(`verified: key cosign.pub (${keyId})`);

    const verified = await cli(['verify', `${reg.host}/dev/keyid@${image.digest}`, '--key', join(dir, 'cosign.pub')]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(keyId);
  });
});
