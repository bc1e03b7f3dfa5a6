import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getManifest, pushImage } from '../../test/helpers/images.js';
import { registryConfig, startRegistry, type TestRegistry } from '../../test/helpers/registry.js';
import { RegistryClient } from './index.js';

interface Grant {
  scopes: string[];
  expiresAt: number;
}

/**
 * A bearer-token gate in front of a plain registry: a token endpoint (`/token`) and a check of
 * each /v2/ request against the token's scopes, answering the registry-style challenge.
 */
async function bearerGate(upstream: string, options: { expiresIn?: number; field?: 'token' | 'access_token'; credentials?: string } = {}) {
  const grants = new Map<string, Grant>();
  const tokenRequests: { scopes: string[]; service: string | null; authorization: string | undefined }[] = [];
  const up = new URL(upstream);
  let origin = '';
  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/token') {
      const scopes = url.searchParams.getAll('scope');
      tokenRequests.push({ scopes, service: url.searchParams.get('service'), authorization: req.headers.authorization });
      if (options.credentials && req.headers.authorization !== `Basic ${Buffer.from(options.credentials).toString('base64')}`) {
        res.writeHead(401).end();
        return;
      }
      const token = randomBytes(12).toString('hex');
      const seconds = options.expiresIn ?? 300;
      grants.set(token, { scopes, expiresAt: Date.now() + seconds * 1000 });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ [options.field ?? 'token']: token, expires_in: seconds }));
      return;
    }
    const needed = requiredScopes(req.method ?? 'GET', url);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const grant = token ? grants.get(token) : undefined;
    const ok = grant && grant.expiresAt > Date.now() && needed.every((n) => covers(grant.scopes, n));
    if (!ok) {
      req.resume();
      res
        .writeHead(401, {
          'www-authenticate': `Bearer realm="${origin}/token",service="gate",scope="${needed.join(' ')}"${grant ? ',error="insufficient_scope"' : ''}`,
          'content-type': 'application/json',
        })
        .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    const out = httpRequest({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.rawHeaders);
      r.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    host: `127.0.0.1:${port}`,
    tokenRequests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function requiredScopes(method: string, url: URL): string[] {
  const m = /^\/v2\/(.+?)\/(manifests|blobs|tags|referrers)\//.exec(url.pathname);
  if (!m) return [];
  const write = !['GET', 'HEAD'].includes(method);
  const out = [`repository:${m[1]}:${write ? 'pull,push' : 'pull'}`];
  const from = url.searchParams.get('from');
  if (from) out.push(`repository:${from}:pull`);
  return out;
}

function covers(granted: string[], needed: string): boolean {
  const [, name, actions] = needed.split(':');
  return granted.some((g) => {
    const [, gname, gactions] = g.split(':');
    return gname === name && actions!.split(',').every((a) => gactions!.split(',').includes(a));
  });
}

describe('bearer token challenge', () => {
  let a: TestRegistry;
  let b: TestRegistry;
  beforeAll(async () => {
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('fetches scoped tokens, caches them per scope, and asks for both repositories to mount', async () => {
    const gate = await bearerGate(a.url, { credentials: 'robot:pw' });
    try {
      const img = await pushImage(a, 'tok/app', { layers: 2, tag: 'v1' });
      const client = new RegistryClient([registryConfig('g', gate, { auth: { type: 'basic', usernameEnv: 'U', passwordEnv: 'P' } })], {
        env: { U: 'robot', P: 'pw' },
      });
      expect((await client.resolve(`${gate.host}/tok/app:v1`)).digest).toBe(img.digest);
      const result = await client.copy(
        { registry: 'g', repository: 'tok/app', digest: img.digest },
        { registry: 'g', repository: 'tok/promoted', tags: ['v1'] },
      );
      expect(result.blobsMounted).toBe(3);
      expect((await getManifest(a, 'tok/promoted', 'v1')).digest).toBe(img.digest);

      expect(
        gate.tokenRequests.every((t) => t.service === 'gate' && t.authorization === 'Basic ' + Buffer.from('robot:pw').toString('base64')),
      ).toBe(true);
      const scopes = gate.tokenRequests.map((t) => t.scopes.slice().sort().join(' '));
      expect(scopes).toContain('repository:tok/app:pull');
      expect(scopes).toContain('repository:tok/app:pull repository:tok/promoted:pull,push');
      // One token per distinct scope set, however many requests used it.
      expect(new Set(scopes).size).toBe(scopes.length);
    } finally {
      await gate.stop();
    }
  });

  it('accepts access_token and fetches a new token once expires_in has passed', async () => {
    const gate = await bearerGate(a.url, { field: 'access_token', expiresIn: 1 });
    try {
      const img = await pushImage(a, 'tok/short', { layers: 1, tag: 'v1' });
      const client = new RegistryClient([registryConfig('g', gate)], { env: {} });
      await client.resolve(`${gate.host}/tok/short:v1`);
      await client.resolve(`${gate.host}/tok/short:v1`);
      expect(gate.tokenRequests).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await client.resolve(`${gate.host}/tok/short@${img.digest}`)).digest).toBe(img.digest);
      expect(gate.tokenRequests).toHaveLength(2);
    } finally {
      await gate.stop();
    }
  });

  it('reports unauthorized when the token endpoint refuses the credentials', async () => {
    const gate = await bearerGate(a.url, { credentials: 'robot:pw' });
    try {
      await pushImage(a, 'tok/denied', { layers: 1, tag: 'v1' });
      const client = new RegistryClient([registryConfig('g', gate, { auth: { type: 'basic', usernameEnv: 'U', passwordEnv: 'P' } })], {
        env: { U: 'robot', P: 'nope' },
      });
      await expect(client.resolve(`${gate.host}/tok/denied:v1`)).rejects.toMatchObject({ code: 'unauthorized', retryable: false });
    } finally {
      await gate.stop();
    }
  });

  it('copies across registries with a token on the source side', async () => {
    const gate = await bearerGate(a.url);
    try {
      const img = await pushImage(a, 'tok/cross', { layers: 2 });
      const client = new RegistryClient([registryConfig('g', gate), registryConfig('b', b)], { env: {} });
      const result = await client.copy(
        { registry: 'g', repository: 'tok/cross', digest: img.digest },
        { registry: 'b', repository: 'tok/cross', tags: ['x'] },
      );
      expect(result.blobsCopied).toBe(3);
      expect((await getManifest(b, 'tok/cross', 'x')).bytes.equals(img.bytes)).toBe(true);
    } finally {
      await gate.stop();
    }
  });
});
