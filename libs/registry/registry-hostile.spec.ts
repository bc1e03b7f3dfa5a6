import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  FOREIGN_BODY,
  GRANTED,
  startForeignServer,
  startHostileRegistry,
  type ForeignServer,
  type HostileRegistry,
} from '../../test/helpers/hostile-registry.js';
import { registryConfig } from '../../test/helpers/registry.js';
import type { RegistryConfig } from '#libs/config/index.js';
import { RegistryClient, type RegistryError } from './index.js';

const creds = { username: 'robot', password: 'registry-secret' };
const basicAuth = 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
const env = { U: creds.username, P: creds.password };

let reg: HostileRegistry;
let foreign: ForeignServer;

beforeAll(async () => {
  reg = await startHostileRegistry({ basic: creds });
});
afterAll(async () => {
  await reg?.stop();
});
afterEach(async () => {
  await foreign?.stop();
  for (const key of Object.keys(reg.modes)) delete reg.modes[key];
});

function client(extra: Partial<RegistryConfig> = {}, timeoutMs?: number): RegistryClient {
  const config = registryConfig('hostile', reg, { auth: { type: 'basic', usernameEnv: 'U', passwordEnv: 'P' }, ...extra });
  return new RegistryClient([config], { env, retries: { attempts: 1 }, timeoutMs });
}

const at = (repository: string) => ({ registry: 'hostile', repository });

async function failure(work: Promise<unknown>): Promise<RegistryError> {
  const err = await work.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'the call should have failed').not.toBeNull();
  return err as RegistryError;
}

describe('redirects', () => {
  it('refuses a blob redirect to another port on loopback: nothing reaches it and its body never comes back', async () => {
    foreign = await startForeignServer('forbidden');
    reg.modes['dev/loop'] = { blobRedirect: `${foreign.url}/storage/{digest}?X-Signature=abc` };

    const err = await failure(client().readBlob(at('dev/loop'), reg.image.config));

    expect(err.code).toBe('protocol');
    expect(err.message).toContain(`redirect to ${foreign.url} refused`);
    expect(err.message).not.toContain(FOREIGN_BODY);
    expect(err.message).not.toContain('X-Signature');
    expect(foreign.seen).toEqual([]);
    // The registry itself did get the credentials: they are its own.
    expect(reg.seen.some((s) => s.authorization === basicAuth)).toBe(true);
  });

  it('refuses redirects to link-local, private and loopback https addresses and to plain http, without connecting', async () => {
    const c = client();
    const cases: [string, RegExp][] = [
      ['https://169.254.169.254/latest/meta-data/iam/{digest}', /169\.254\.169\.254 is a loopback, link-local or private address/],
      ['https://10.1.2.3/bucket/{digest}', /10\.1\.2\.3 is a loopback, link-local or private address/],
      ['https://[::1]:9/{digest}', /\[::1\] is a loopback, link-local or private address/],
      ['https://[::ffff:127.0.0.1]/{digest}', /is a loopback, link-local or private address/],
      ['http://storage.example.com/{digest}', /plain http to a host not listed/],
      ['file:///etc/passwd', /file: is not http\(s\)/],
    ];
    for (const [location, reason] of cases) {
      reg.modes['dev/private'] = { blobRedirect: location };
      const err = await failure(c.readBlob(at('dev/private'), reg.image.config));
      expect(err.code, location).toBe('protocol');
      expect(err.message, location).toMatch(reason);
    }
  });

  it('refuses at connect an https name that resolves only to loopback, before any byte is sent', async () => {
    foreign = await startForeignServer('forbidden');
    reg.modes['dev/named'] = { blobRedirect: `https://localhost:${new URL(foreign.url).port}/{digest}` };

    const err = await failure(client().readBlob(at('dev/named'), reg.image.config));

    expect(err.message).toContain('localhost resolves only to loopback, link-local or private addresses');
    expect(err.message).not.toContain(FOREIGN_BODY);
    expect(foreign.seen).toEqual([]);
  });

  it('does not follow a redirect of anything but a blob download', async () => {
    foreign = await startForeignServer('forbidden');
    reg.modes['dev/manifest'] = { manifestRedirect: `${foreign.url}/manifest` };

    const err = await failure(client({ redirects: [foreign.host] }).getManifest(at('dev/manifest'), 'v1'));

    expect(err.code).toBe('protocol');
    expect(err.message).toContain('answered 307 (a redirect), which is followed only for blob downloads');
    expect(foreign.seen).toEqual([]);
  });

  it('follows a blob redirect to a host the registry lists, without the registry credentials', async () => {
    foreign = await startForeignServer('blob', reg.image.blobs);
    reg.modes['dev/listed'] = { blobRedirect: `${foreign.url}/storage/{digest}` };

    const bytes = await client({ redirects: [foreign.host] }).readBlob(at('dev/listed'), reg.image.config);

    expect(bytes.equals(reg.image.blobs.get(reg.image.config.digest)!)).toBe(true);
    expect(foreign.seen).toHaveLength(1);
    expect(foreign.seen[0]!.authorization).toBeNull();
  });

  it("reports a listed storage host's refusal by status only, never with its body", async () => {
    foreign = await startForeignServer('forbidden');
    reg.modes['dev/refused'] = { blobRedirect: `${foreign.url}/storage/{digest}` };

    const err = await failure(client({ redirects: [foreign.host] }).readBlob(at('dev/refused'), reg.image.config));

    expect(err.code).toBe('unauthorized');
    expect(err.message).toContain(`redirected to ${foreign.url}, which answered 403`);
    expect(err.message).not.toContain(FOREIGN_BODY);
    expect(foreign.seen.map((s) => s.authorization)).toEqual([null]);
  });
});

describe('token realms', () => {
  it('sends nothing to a realm on a host the registry does not list, credentials least of all', async () => {
    foreign = await startForeignServer('token');
    reg.modes['dev/realm'] = { realm: `${foreign.url}/token` };

    const err = await failure(client().resolve(`${reg.host}/dev/realm:v1`));

    expect(err.code).toBe('unauthorized');
    expect(err.message).toContain(`bearer realm ${foreign.host} is neither the registry's host nor listed in its tokenRealms`);
    expect(foreign.seen).toEqual([]);
  });

  it('asks a listed realm for a token with the registry credentials', async () => {
    foreign = await startForeignServer('token');
    reg.modes['dev/trusted'] = { realm: `${foreign.url}/token` };

    const found = await client({ tokenRealms: [foreign.host] }).resolve(`${reg.host}/dev/trusted:v1`);

    expect(found.digest).toBe(reg.image.digest);
    expect(foreign.seen).toHaveLength(1);
    expect(foreign.seen[0]!.authorization).toBe(basicAuth);
    expect(new URL(foreign.seen[0]!.path, foreign.url).searchParams.getAll('scope')).toEqual(['repository:dev/trusted:pull']);
    expect(reg.seen.filter((s) => s.repository === 'dev/trusted').at(-1)!.authorization).toBe(`Bearer ${GRANTED}`);
  });

  it('refuses an endless token answer after 1 MiB', async () => {
    foreign = await startForeignServer('endless');
    reg.modes['dev/endless'] = { realm: `${foreign.url}/token` };

    const err = await failure(client({ tokenRealms: [foreign.host] }, 20_000).resolve(`${reg.host}/dev/endless:v1`));

    expect(err.code).toBe('protocol');
    expect(err.message).toContain('answer longer than 1048576 bytes');
  });

  it('gives up on a token answer that drips in slower than the timeout', async () => {
    foreign = await startForeignServer('trickle');
    reg.modes['dev/drip'] = { realm: `${foreign.url}/token` };

    const err = await failure(client({ tokenRealms: [foreign.host] }, 1_500).resolve(`${reg.host}/dev/drip:v1`));

    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/not complete within 1500 ms|no answer within 1500 ms/);
  });

  it('keeps realms per repository: a realm learned for one repository is never asked about another', async () => {
    foreign = await startForeignServer('token');
    const second = await startForeignServer('token');
    try {
      reg.modes['dev/first'] = { realm: `${foreign.url}/token` };
      reg.modes['dev/second'] = { realm: `${second.url}/token` };
      const c = client({ tokenRealms: [foreign.host, second.host] });

      await c.resolve(`${reg.host}/dev/first:v1`);
      await c.resolve(`${reg.host}/dev/second:v1`);

      const scopes = (s: ForeignServer) => s.seen.flatMap((r) => new URL(r.path, s.url).searchParams.getAll('scope'));
      expect(scopes(foreign)).toEqual(['repository:dev/first:pull']);
      expect(scopes(second)).toEqual(['repository:dev/second:pull']);
    } finally {
      await second.stop();
    }
  });
});

describe('slow registries', () => {
  it('a manifest sent one byte at a time is cut off by the caller signal, and the connection is closed', async () => {
    reg.modes['dev/slowloris'] = { trickle: { intervalMs: 500 } };
    const before = reg.trickled();

    await expect(client().getManifest(at('dev/slowloris'), reg.image.digest, AbortSignal.timeout(1_200))).rejects.toMatchObject({
      name: 'TimeoutError',
    });

    expect(reg.trickled()).toBe(before + 1);
    await expect.poll(() => reg.trickling(), { timeout: 5_000 }).toBe(0);
  });
});
