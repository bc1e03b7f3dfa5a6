import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getManifest, pushImage } from '../helpers/images.js';
import { faultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../helpers/registry.js';
import { startTokenServer, tokenProxy, type TokenProxy, type TokenServer } from '../helpers/token-server.js';
import { eventually, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

const run = promisify(execFile);
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

async function waitFor(t: TestApp, token: string, id: string, status: string) {
  return eventually(async () => {
    const res = await t.api().get(`/api/v1/promotions/${id}`).set(auth(token));
    return res.body.status === status && res.body;
  }, 20_000);
}

async function eventData(t: TestApp, id: string, action: string) {
  const { rows } = await t.db.query(`SELECT data FROM audit_events WHERE subject = $1 AND action = $2`, [`promotion:${id}`, action]);
  expect(rows).toHaveLength(1);
  return rows[0].data;
}

// A docker-registry with token auth, behind a pass-through proxy that counts what the promoter sends it.
let tokens: TokenServer;
let secured: TestRegistry;
let door: FaultProxy;
let raw: TokenProxy;
let t: TestApp;
let ci: string;

const securedPipeline = () => `
registries:
  - name: secured
    url: ${door.url}
    auth: { type: basic, usernameEnv: SECURED_USERNAME, passwordEnv: SECURED_PASSWORD }
    tokenRealms: [${new URL(tokens.realm).host}]
environments:
  - name: dev
    repository: secured/dev/{app}
  - name: staging
    from: dev
    repository: secured/staging/{app}
`;

beforeAll(async () => {
  tokens = await startTokenServer({ service: 'test-registry', issuer: 'test-issuer' });
  secured = await startRegistry({
    token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.certPath },
  });
  door = await faultProxy(secured.url, []);
  raw = await tokenProxy(secured.url, tokens);
  t = await startTestApp({ pipeline: securedPipeline(), env: { SECURED_USERNAME: tokens.username, SECURED_PASSWORD: tokens.password } });
  ci = await t.token('ci', ['ci']);
});
afterAll(async () => {
  await t?.close();
  await raw?.stop();
  await door?.stop();
  await secured?.stop();
  await tokens?.stop();
});

describe('a registry behind a token service', () => {
  it('opens only to tokens signed by the key its rootcertbundle trusts', async () => {
    const image = await pushImage({ url: raw.url }, 'dev/probe');
    const anonymous = await fetch(`${secured.url}/v2/dev/probe/manifests/${image.digest}`);
    expect(anonymous.status).toBe(401);
    const challenge = anonymous.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain(`realm="${tokens.realm}"`);
    expect(challenge).toContain('service="test-registry"');
    expect(challenge).toContain('scope="repository:dev/probe:pull"');
    const basic = await fetch(`${secured.url}/v2/dev/probe/manifests/${image.digest}`, {
      headers: { authorization: 'Basic ' + Buffer.from(`${tokens.username}:${tokens.password}`).toString('base64') },
    });
    expect(basic.status).toBe(401);
    const other = await fetch(`${secured.url}/v2/dev/probe/manifests/${image.digest}`, {
      headers: { authorization: `Bearer ${tokens.mint([{ type: 'repository', name: 'dev/elsewhere', actions: ['pull'] }])}` },
    });
    expect(other.status).toBe(401);
    const granted = await fetch(`${secured.url}/v2/dev/probe/manifests/${image.digest}`, {
      headers: {
        authorization: `Bearer ${tokens.mint([{ type: 'repository', name: 'dev/probe', actions: ['pull'] }])}`,
        accept: image.mediaType,
      },
    });
    expect(granted.status).toBe(200);
    expect(Buffer.from(await granted.arrayBuffer()).equals(image.bytes)).toBe(true);
  });

  it('promotes by tag through the token flow, mounting blobs, with one token per distinct scope', async () => {
    const image = await pushImage({ url: raw.url }, 'dev/shop', { tag: '1.4.0', layers: 3 });
    tokens.requests.splice(0);
    door.requests.splice(0);

    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${door.host}/dev/shop:1.4.0`, target: 'staging' });
    expect(created.status).toBe(202);
    expect(created.body.digest).toBe(image.digest);
    const done = await waitFor(t, ci, created.body.id, 'promoted');
    const event = await eventData(t, done.id, 'promotion.promoted');
    expect(event).toMatchObject({ target: `${door.host}/staging/shop@${image.digest}`, tags: ['1.4.0'], blobsMounted: 4, blobsCopied: 0 });

    for (const ref of [image.digest, '1.4.0']) {
      const copied = await getManifest({ url: raw.url }, 'staging/shop', ref);
      expect(copied.status).toBe(200);
      expect(copied.digest).toBe(image.digest);
      expect(copied.bytes.equals(image.bytes)).toBe(true);
    }

    // Every token was asked for with the pipeline's credentials, for this registry's service.
    expect(tokens.requests.length).toBeGreaterThan(0);
    for (const r of tokens.requests) expect(r).toMatchObject({ status: 200, service: 'test-registry', account: tokens.username });
    const scopeSets = tokens.requests.map((r) => [...r.scopes].sort().join(' '));
    expect(scopeSets).toEqual(
      expect.arrayContaining([
        'repository:dev/shop:pull',
        'repository:staging/shop:pull,push',
        // A cross-repository mount needs push on the target and pull on the source, in one token.
        'repository:dev/shop:pull repository:staging/shop:pull,push',
      ]),
    );
    // Cached: each distinct scope set was asked for once, though the registry saw many more requests.
    expect(new Set(scopeSets).size).toBe(scopeSets.length);
    const bearer = door.requests.filter((r) => r.headers.authorization?.startsWith('Bearer '));
    expect(bearer.length).toBeGreaterThanOrEqual(3 * tokens.requests.length);

    // An independent client doing its own token dance reads the same bytes.
    const { stdout } = await run('skopeo', [
      'inspect',
      '--tls-verify=false',
      '--raw',
      '--creds',
      `${tokens.username}:${tokens.password}`,
      `docker://${secured.host}/staging/shop:1.4.0`,
    ]);
    expect(Buffer.from(stdout).equals(image.bytes)).toBe(true);
  });

  it('refuses to resolve a tag and to check a digest (502) when the password is wrong', async () => {
    const image = await pushImage({ url: raw.url }, 'dev/locked', { tag: 'v1' });
    const wrong = await startTestApp({
      pipeline: securedPipeline(),
      env: { SECURED_USERNAME: tokens.username, SECURED_PASSWORD: 'not-the-password' },
    });
    try {
      const wci = await wrong.token('ci', ['ci']);
      tokens.requests.splice(0);
      const byTag = await wrong
        .api()
        .post('/api/v1/promotions')
        .set(auth(wci))
        .send({ image: `${door.host}/dev/locked:v1`, target: 'staging' });
      expect(byTag.status).toBe(502);
      expect(byTag.body.message).toMatch(/401/);
      expect(byTag.body.details).toMatchObject({ field: 'image', code: 'unauthorized' });
      expect(tokens.requests.length).toBeGreaterThan(0);
      expect(tokens.requests.every((r) => r.status === 401 && r.account === tokens.username)).toBe(true);

      const byDigest = await wrong
        .api()
        .post('/api/v1/promotions')
        .set(auth(wci))
        .send({ image: `${door.host}/dev/locked@${image.digest}`, target: 'staging' });
      // The digest is checked at request time too, so the refusal comes now, not from the copy.
      expect(byDigest.status).toBe(502);
      expect(byDigest.body.message).toMatch(/401/);
      expect(byDigest.body.details).toMatchObject({ field: 'image', code: 'unauthorized' });
      expect((await getManifest({ url: raw.url }, 'staging/locked', image.digest)).status).toBe(404);
      expect(tokens.requests.every((r) => r.status === 401)).toBe(true);
    } finally {
      await wrong.close();
    }
  });
});

describe('faults on the target registry during a copy', () => {
  let remote: TestRegistry;
  let flaky: FaultProxy;
  let app: TestApp;
  let token: string;
  beforeAll(async () => {
    remote = await startRegistry();
    flaky = await faultProxy(remote.url, [
      { times: 1, fault: { type: 'status', status: 503, body: '{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}' } },
      {
        times: 1,
        fault: {
          type: 'status',
          status: 429,
          headers: { 'retry-after': '1' },
          body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
        },
      },
      { times: 1, match: (r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/'), fault: { type: 'drop' } },
      { times: 1, match: (r) => r.method === 'PUT' && r.url.includes('/manifests/'), fault: { type: 'drop' } },
    ]);
    app = await startTestApp({
      pipeline: `
registries:
  - name: local
    url: http://${registryHost()}
  - name: flaky
    url: ${flaky.url}
environments:
  - name: dev
    repository: local/dev/{app}
  - name: edge
    from: dev
    repository: flaky/edge/{app}
`,
    });
    token = await app.token('ci', ['ci']);
  });
  afterAll(async () => {
    await app?.close();
    await flaky?.stop();
    await remote?.stop();
  });

  it('rides out a 503, a 429 with Retry-After and dropped connections, and copies byte for byte', async () => {
    const image = await pushImage({ url: `http://${registryHost()}` }, 'dev/bumpy', { layers: 2 });
    const created = await app
      .api()
      .post('/api/v1/promotions')
      .set(auth(token))
      .send({ image: `${registryHost()}/dev/bumpy@${image.digest}`, target: 'edge' });
    expect(created.status).toBe(202);
    const done = await waitFor(app, token, created.body.id, 'promoted');
    const event = await eventData(app, done.id, 'promotion.promoted');
    expect(event).toMatchObject({ blobsMounted: 0, blobsCopied: 3 });

    const copied = await getManifest({ url: remote.url }, 'edge/bumpy', image.digest);
    expect(copied.status).toBe(200);
    expect(copied.bytes.equals(image.bytes)).toBe(true);

    const log = flaky.requests;
    for (const rule of [0, 1, 2, 3]) expect(log.filter((r) => r.fault === rule)).toHaveLength(1);
    const dropped = log.find((r) => r.fault === 2)!;
    expect(dropped.method).toBe('PUT');
    expect(log.filter((r) => r.method === 'PUT' && r.url.includes('/manifests/') && r.fault === null).length).toBeGreaterThanOrEqual(1);
    // Retry-After: 1 is honoured: nothing reached the registry in the second after the 429.
    const at429 = log.findIndex((r) => r.fault === 1);
    const next = log[at429 + 1]!;
    expect(next.method).toBe(log[at429]!.method);
    expect(next.url).toBe(log[at429]!.url);
    expect(next.at - log[at429]!.at).toBeGreaterThanOrEqual(990);
  });
});

describe('registries the pipeline does not name', () => {
  let stranger: TestRegistry;
  let strangerDoor: FaultProxy;
  beforeAll(async () => {
    stranger = await startRegistry();
    strangerDoor = await faultProxy(stranger.url, []);
  });
  afterAll(async () => {
    await strangerDoor?.stop();
    await stranger?.stop();
  });

  it('are refused with 422 before anything is sent to them or to the token service', async () => {
    const image = await pushImage({ url: stranger.url }, 'dev/shop', { tag: '1.4.0' });
    tokens.requests.splice(0);
    door.requests.splice(0);
    for (const ref of [`${strangerDoor.host}/dev/shop:1.4.0`, `${strangerDoor.host}/dev/shop@${image.digest}`]) {
      const res = await t.api().post('/api/v1/promotions').set(auth(ci)).send({ image: ref, target: 'staging' });
      expect(res.status).toBe(422);
      expect(res.body.message).toContain('not one of the registries named in the pipeline file');
    }
    const list = await t
      .api()
      .get(`/api/v1/promotions?image=${encodeURIComponent(`${strangerDoor.host}/dev/shop@${image.digest}`)}`)
      .set(auth(ci));
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]);
    expect(strangerDoor.requests).toEqual([]);
    expect(tokens.requests).toEqual([]);
    expect(door.requests).toEqual([]);
  });
});
