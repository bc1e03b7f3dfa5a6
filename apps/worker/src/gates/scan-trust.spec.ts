import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parsePipeline, type AppConfig } from '#libs/config/index.js';
import { pae } from '#libs/signing/index.js';
import { envelopeSigner, loadAttestationKeys } from './scan-trust.js';

const dir = mkdtempSync(join(tmpdir(), 'scan-trust-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const trusted = generateKeyPairSync('ec', { namedCurve: 'P-256' });
writeFileSync(join(dir, 'scanner.pub'), trusted.publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(join(dir, 'garbage.pub'), 'not a key');

function configWith(keys: string[]): AppConfig {
  const pipeline = parsePipeline(`
registries: [{ name: local, url: http://127.0.0.1:5000 }]
environments:
  - name: dev
    repository: local/dev/{app}
  - name: prod
    from: dev
    repository: local/prod/{app}
    gates: { scan: { sources: [attestation], attestationKeys: [${keys.join(', ')}] } }
`);
  return { pipeline, process: { configPath: join(dir, 'promoter.yaml') } } as unknown as AppConfig;
}

function envelope(key: typeof trusted.privateKey) {
  const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');
  const sig = sign('sha256', pae('application/vnd.in-toto+json', payload), key).toString('base64');
  return { payloadType: 'application/vnd.in-toto+json', payload: payload.toString('base64'), signatures: [{ keyid: '', sig }] };
}

describe('vulnerability attestation keys', () => {
  it('are read per environment, relative to the pipeline file', () => {
    const keys = loadAttestationKeys(configWith(['scanner.pub']));
    expect(keys.get('prod')).toHaveLength(1);
    expect(envelopeSigner(envelope(trusted.privateKey), keys.get('prod')!)?.source).toBe('scanner.pub');
  });

  it('verify only envelopes a trusted key signed over the DSSE PAE', () => {
    const keys = loadAttestationKeys(configWith(['scanner.pub'])).get('prod')!;
    expect(envelopeSigner(envelope(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), keys)).toBeNull();
    const tampered = { ...envelope(trusted.privateKey), payload: Buffer.from('{"other":1}').toString('base64') };
    expect(envelopeSigner(tampered, keys)).toBeNull();
    expect(envelopeSigner({ ...tampered, signatures: [{ keyid: '', sig: 'AAAA' }] }, keys)).toBeNull();
  });

  it('stop start-up naming the key when a file is missing or not a key', () => {
    for (const [file, message] of [
      ['missing.pub', 'environments[1].gates.scan.attestationKeys[0]'],
      ['garbage.pub', 'environments[1].gates.scan.attestationKeys[0]'],
    ]) {
      let error: unknown;
      try {
        loadAttestationKeys(configWith([file!]));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.map((i) => i.path)).toEqual([message]);
    }
  });
});
