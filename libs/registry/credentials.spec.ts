import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RegistryConfig } from '#libs/config/index.js';
import { loadCredentials, parseChallenge } from './credentials.js';

const reg = (auth: RegistryConfig['auth']): RegistryConfig => ({
  name: 'r',
  url: 'https://reg.example.com:5000',
  host: 'reg.example.com:5000',
  insecure: false,
  auth,
  rateLimit: null,
});

describe('parseChallenge', () => {
  it('reads a bearer challenge with quoted, escaped and bare values', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push" , error=insufficient_scope',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example.com/token',
        service: 'registry.example.com',
        scope: 'repository:a/b:pull,push',
        error: 'insufficient_scope',
      },
    });
    expect(parseChallenge('Basic realm="a \\"quoted\\" realm"')).toEqual({ scheme: 'basic', params: { realm: 'a "quoted" realm' } });
    expect(parseChallenge(null)).toBeNull();
  });
});

describe('loadCredentials', () => {
  it('takes basic credentials from the named variables and refuses missing ones', async () => {
    const auth = { type: 'basic', usernameEnv: 'U', passwordEnv: 'P' } as const;
    expect(await loadCredentials(reg(auth), { U: 'u', P: 'p:with:colons' })).toEqual({ username: 'u', password: 'p:with:colons' });
    await expect(loadCredentials(reg(auth), { U: 'u' })).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await loadCredentials(reg({ type: 'none' }), {})).toBeNull();
  });

  it('finds the docker config entry by host, whatever the key form', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'creds-'));
    try {
      const file = join(dir, 'config.json');
      const auth = Buffer.from('robot:s3cr:et').toString('base64');
      await writeFile(
        file,
        JSON.stringify({ auths: { 'other.example.com': { auth: 'eDp5' }, 'https://reg.example.com:5000/v1/': { auth } } }),
      );
      expect(await loadCredentials(reg({ type: 'dockerConfig', path: file }), {})).toEqual({ username: 'robot', password: 's3cr:et' });
      await writeFile(file, JSON.stringify({ auths: { 'elsewhere.io': { auth } } }));
      expect(await loadCredentials(reg({ type: 'dockerConfig', path: file }), {})).toBeNull();
      await expect(loadCredentials(reg({ type: 'dockerConfig', path: join(dir, 'missing.json') }), {})).rejects.toMatchObject({
        code: 'unauthorized',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
