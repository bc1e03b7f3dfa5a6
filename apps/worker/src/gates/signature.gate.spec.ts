import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage } from '../../../../test/helpers/images.js';
import { freePort } from '../../../../test/helpers/process.js';
import { startRegistry, type TestRegistry } from '../../../../test/helpers/registry.js';
import { pushCosignManifest } from '../../../../test/helpers/sigstore.js';
import { AppConfig, loadProcessConfig, parsePipeline } from '#libs/config/index.js';
import type { PromotionEntity } from '#libs/db/index.js';
import { RegistryClient } from '#libs/registry/index.js';
import { Annotations, simpleSigningPayload } from '#libs/signing/index.js';
import type { GateContext } from '#libs/workflow/index.js';
import { SignatureGate } from './signature.gate.js';

// The gate's verdicts around the verifier: passed/failed come from the report; registry trouble
// that retrying cannot fix is `error`, trouble that it may fix is thrown (the job is retried).
describe('SignatureGate', () => {
  let reg: TestRegistry;
  let secured: TestRegistry;
  const dir = mkdtempSync(join(tmpdir(), 'signature-gate-'));
  const ed25519 = generateKeyPairSync('ed25519');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  beforeAll(async () => {
    [reg, secured] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' })]);
    writeFileSync(join(dir, 'ed.pub'), ed25519.publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'rsa.pub'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  }, 30_000);
  afterAll(async () => {
    await Promise.all([reg?.stop(), secured?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function gateFor(registryUrl: string, env: Record<string, string> = {}, auth = '') {
    const file = join(dir, 'promoter.yaml');
    writeFileSync(
      file,
      `registries:\n  - name: src\n    url: ${registryUrl}\n${auth}environments:\n  - name: dev\n    repository: src/dev/{app}\n` +
        `  - name: staging\n    from: dev\n    repository: src/staging/{app}\n    gates:\n      signature: { keys: [ed.pub, rsa.pub] }\n`,
    );
    const config = new AppConfig(loadProcessConfig({ PROMOTER_CONFIG: file }), parsePipeline(readFileSync(file, 'utf8'), file), env);
    const client = new RegistryClient(config.pipeline.registries, { env, retries: { attempts: 1 } });
    return { gate: new SignatureGate(config, client), config };
  }

  function context(config: AppConfig, host: string, repo: string, digest: string): GateContext {
    const promotion = { id: 'p', repository: `${host}/${repo}`, digest, image: `${host}/${repo}@${digest}` } as PromotionEntity;
    return {
      promotion,
      image: { registry: host, repository: repo, digest },
      environment: config.environment('staging')!,
      options: config.environment('staging')!.gates.signature!,
      signal: new AbortController().signal,
    };
  }

  it('passes an image signed with an Ed25519 or RSA key and fails an unsigned one', async () => {
    const { gate, config } = await gateFor(reg.url);
    const signed = await pushImage(reg, 'dev/keys', { layers: 1 });
    const payload = simpleSigningPayload(`${reg.host}/dev/keys`, signed.digest);
    await pushCosignManifest(reg, 'dev/keys', signed.digest, 'sig', [
      { blob: payload, annotations: { [Annotations.signature]: sign(null, payload, ed25519.privateKey).toString('base64') } },
      { blob: payload, annotations: { [Annotations.signature]: sign('sha256', payload, rsa.privateKey).toString('base64') } },
    ]);
    const passed = await gate.evaluate(context(config, reg.host, 'dev/keys', signed.digest));
    expect(passed.status).toBe('passed');
    expect(
      passed.evidence.signatures.items.map((i: { accepted: boolean; signer: { source: string } }) => i.accepted && i.signer.source),
    ).toEqual(['ed.pub', 'rsa.pub']);
    expect(passed.summary).toMatch(/^verified: .*key ed\.pub/);
    expect(passed.summary).toContain('key rsa.pub');

    const unsigned = await pushImage(reg, 'dev/keys', { layers: 1 });
    const failed = await gate.evaluate(context(config, reg.host, 'dev/keys', unsigned.digest));
    expect(failed).toMatchObject({ status: 'failed', summary: expect.stringContaining('no signatures') });
  });

  it('reports error when the registry refuses the credentials, and throws (retry) when it is unreachable', async () => {
    const auth = `    auth: { type: basic, usernameEnv: REG_USER, passwordEnv: REG_PASS }\n`;
    const { gate, config } = await gateFor(secured.url, { REG_USER: 'promoter', REG_PASS: 'wrong' }, auth);
    const refused = await gate.evaluate(context(config, secured.host, 'dev/x', 'sha256:' + 'a'.repeat(64)));
    expect(refused.status).toBe('error');
    expect(refused.summary).toContain('cannot read the signatures');

    const port = await freePort();
    const down = await gateFor(`http://127.0.0.1:${port}`);
    await expect(down.gate.evaluate(context(down.config, `127.0.0.1:${port}`, 'dev/x', 'sha256:' + 'b'.repeat(64)))).rejects.toMatchObject({
      code: 'unavailable',
    });
  });

  it('fails closed with error when a trust file disappeared before the worker started', async () => {
    writeFileSync(join(dir, 'gone.pub'), ed25519.publicKey.export({ type: 'spki', format: 'pem' }));
    const file = join(dir, 'gone.yaml');
    writeFileSync(
      file,
      `registries: [{ name: src, url: ${reg.url} }]\nenvironments:\n  - name: dev\n    repository: src/dev/{app}\n  - name: staging\n    from: dev\n    repository: src/staging/{app}\n    gates: { signature: { keys: [gone.pub] } }\n`,
    );
    unlinkSync(join(dir, 'gone.pub'));
    const config = new AppConfig(loadProcessConfig({ PROMOTER_CONFIG: file }), parsePipeline(readFileSync(file, 'utf8'), file));
    const gate = new SignatureGate(config, new RegistryClient(config.pipeline.registries, { env: {} }));
    const verdict = await gate.evaluate(context(config, reg.host, 'dev/x', 'sha256:' + 'c'.repeat(64)));
    expect(verdict.status).toBe('error');
    expect(verdict.summary).toContain('environments[1].gates.signature.keys[0]: cannot read gone.pub');
  });
});
