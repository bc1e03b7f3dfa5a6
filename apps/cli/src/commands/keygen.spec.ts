import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPrivateKey, readPublicKey, KeySigner } from '#libs/signing/index.js';
import { runCli } from '../cli.js';

const dir = mkdtempSync(join(tmpdir(), 'keygen-'));
const home = process.cwd();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const out = { stdout: '', stderr: '' };
  const io = { stdout: (s: string) => (out.stdout += s), stderr: (s: string) => (out.stderr += s), env };
  return runCli(args, io).then((code) => ({ code, ...out }));
}

describe('promoctl keygen', () => {
  let cwd: string;
  beforeEach(() => {
    cwd = mkdtempSync(join(dir, 'cwd-'));
    process.chdir(cwd);
  });
  afterEach(() => process.chdir(home));

  it('writes cosign.key (0600, encrypted with PROMOTER_KEY_PASSWORD) and cosign.pub into the current directory', async () => {
    const res = await cli(['keygen'], { PROMOTER_KEY_PASSWORD: 'pw' });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`Private key written to ${join(cwd, 'cosign.key')}`);
    const keyPem = readFileSync(join(cwd, 'cosign.key'), 'utf8');
    expect(keyPem).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    expect(statSync(join(cwd, 'cosign.key')).mode & 0o777).toBe(0o600);
    const pub = readPublicKey(readFileSync(join(cwd, 'cosign.pub')));
    expect(res.stdout).toContain(pub.keyId);

    // The pair belongs together: a signature by the decrypted key verifies under openssl with cosign.pub.
    const signer = new KeySigner(await readPrivateKey(keyPem, 'pw', 'cosign.key'));
    writeFileSync(join(cwd, 'data'), 'hello');
    writeFileSync(join(cwd, 'sig'), await signer.sign(Buffer.from('hello')));
    const verified = execFileSync('openssl', ['dgst', '-sha256', '-verify', 'cosign.pub', '-signature', 'sig', 'data'], {
      cwd,
      encoding: 'utf8',
    });
    expect(verified.trim()).toBe('Verified OK');
    await expect(readPrivateKey(keyPem, 'other', 'cosign.key')).rejects.toThrow(/wrong password/);
  });

  it('accepts an empty password, with a warning', async () => {
    const res = await cli(['keygen']);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/empty password/);
    expect((await readPrivateKey(readFileSync(join(cwd, 'cosign.key')), '', 'cosign.key')).type).toBe('private');
  });

  it('refuses to overwrite existing files unless --force', async () => {
    writeFileSync(join(cwd, 'cosign.pub'), 'keep me');
    const refused = await cli(['keygen']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${join(cwd, 'cosign.pub')} already exists; pass --force`);
    expect(readFileSync(join(cwd, 'cosign.pub'), 'utf8')).toBe('keep me');
    expect(() => statSync(join(cwd, 'cosign.key'))).toThrow();

    const forced = await cli(['keygen', '--force']);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(cwd, 'cosign.pub'), 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
  });
});
