import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOidcProvider, type TestProvider } from '../helpers/oidc-provider.js';
import { startTestApp, testPipeline, type TestApp } from '../helpers/test-app.js';

// Browser sign-in end to end against a real OpenID provider: an HTTP client that keeps cookies,
// follows redirects and posts the provider's login and consent forms, as a browser would.

const PUBLIC = 'https://promoter.test';
let t: TestApp;
let idp: TestProvider;

interface Reply {
  status: number;
  location: string | null;
  text: string;
  cookies: string[];
  body: unknown;
}

/** One browser: a cookie jar per origin. The promoter's origin is served by the app under test. */
class Browser {
  readonly jar = new Map<string, Map<string, string>>();

  cookie(origin: string, name: string): string | undefined {
    return this.jar.get(origin)?.get(name);
  }

  private remember(origin: string, setCookies: string[]) {
    const jar = this.jar.get(origin) ?? new Map<string, string>();
    for (const c of setCookies) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) jar.delete(name);
      else jar.set(name, value);
    }
    this.jar.set(origin, jar);
  }

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const u = new URL(url);
    const cookieHeader = [...(this.jar.get(u.origin) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
    const method = init.method ?? 'GET';
    if (u.origin === PUBLIC) {
      let req = method === 'GET' ? t.api().get(u.pathname + u.search) : t.api().post(u.pathname + u.search);
      if (cookieHeader) req = req.set('Cookie', cookieHeader);
      for (const [k, v] of Object.entries(init.headers ?? {})) req = req.set(k, v);
      const res = await req.redirects(0);
      const setCookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
      this.remember(u.origin, setCookies);
      return { status: res.status, location: res.headers.location ?? null, text: res.text, cookies: setCookies, body: res.body };
    }
    const res = await fetch(url, {
      method,
      redirect: 'manual',
      headers: {
        ...(cookieHeader ? { cookie: cookieHeader } : {}),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    });
    const setCookies = res.headers.getSetCookie();
    this.remember(u.origin, setCookies);
    const text = await res.text();
    return { status: res.status, location: res.headers.get('location'), text, cookies: setCookies, body: null };
  }

  /**
   * Signs in at the provider as `login` from /auth/login?returnTo=…, posting the login and consent
   * forms, and stops at the callback URL the provider redirects to (not yet requested).
   */
  async throughProvider(login: string, returnTo = '/'): Promise<string> {
    let res = await this.request(`${PUBLIC}/auth/login?returnTo=${encodeURIComponent(returnTo)}`);
    let url = `${PUBLIC}/auth/login`;
    for (let hops = 0; hops < 30; hops++) {
      if (res.status >= 300 && res.status < 400 && res.location) {
        url = new URL(res.location, url).href;
        if (url.startsWith(`${PUBLIC}/auth/callback`)) return url;
        res = await this.request(url);
        continue;
      }
      const form = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(res.text);
      if (res.status !== 200 || !form) throw new Error(`sign-in stopped at ${url}: ${res.status} ${res.text.slice(0, 300)}`);
      const fields: Record<string, string> = {};
      for (const m of res.text.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields[m[1]!] = m[2]!;
      if (fields.prompt === 'login') Object.assign(fields, { login, password: 'any password' });
      url = new URL(form[1]!.replaceAll('&amp;', '&'), url).href;
      res = await this.request(url, { method: 'POST', form: fields });
    }
    throw new Error('too many redirects');
  }

  async signIn(login: string, returnTo = '/'): Promise<Reply> {
    return this.request(await this.throughProvider(login, returnTo));
  }
}

beforeAll(async () => {
  idp = await startOidcProvider({
    redirectUri: `${PUBLIC}/auth/callback`,
    users: {
      alice: { name: 'Alice Example', email: 'alice@example.com', groups: ['release-managers', 'staff'] },
      bob: { name: 'Bob Example', email: 'bob@example.com', groups: ['staff'] },
      carol: { name: 'Carol Example', email: 'Carol@Example.com', groups: [] },
    },
  });
  t = await startTestApp({
    worker: false,
    env: { PROMOTER_OIDC_CLIENT_SECRET: idp.clientSecret },
    pipeline: `${testPipeline()}
identity:
  oidc:
    issuer: ${idp.issuer}
    clientId: ${idp.clientId}
    clientSecretEnv: PROMOTER_OIDC_CLIENT_SECRET
    publicUrl: ${PUBLIC}
    scopes: [openid, email, profile, groups, offline_access]
    groupsClaim: groups
    roles: { release-manager: [release-managers], auditor: [carol@example.com] }
    session: { idleTimeout: 30m, absoluteTimeout: 8h, rolesRefreshInterval: 5m }
`,
  });
});
afterAll(async () => {
  await t?.close();
  await idp?.close();
});

const me = (b: Browser, headers: Record<string, string> = {}) => b.request(`${PUBLIC}/api/v1/me`, { headers });

describe('browser sign-in', () => {
  it('signs in with the code flow and PKCE, lands on returnTo, and holds a server-side session cookie', async () => {
    const b = new Browser();
    const done = await b.signIn('alice', '/promotions?status=awaiting_approval');
    expect(done.status, JSON.stringify(done.body)).toBe(302);
    expect(done.location).toBe('/promotions?status=awaiting_approval');
    const session = done.cookies.find((c) => c.startsWith('promoter_session='))!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/Secure/);
    expect(session).toMatch(/SameSite=Lax/);
    const who = await me(b);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({
      name: 'Alice Example',
      person: 'alice@example.com',
      kind: 'person',
      roles: ['release-manager'],
      credential: 'session',
      csrfToken: b.cookie(PUBLIC, 'promoter_csrf'),
    });
    // The cookie holds a random secret; the database only its hash.
    const { rows } = await t.db.query(`SELECT token_hash FROM sessions WHERE person = 'alice@example.com'`);
    expect(rows.length).toBe(1);
    expect(rows[0].token_hash).not.toBe(b.cookie(PUBLIC, 'promoter_session'));

    // Roles from e-mail entries in the mapping too, compared without case.
    const c = new Browser();
    await c.signIn('carol');
    expect((await me(c)).body).toMatchObject({ person: 'carol@example.com', roles: ['auditor'] });
  });

  it('refuses cookie requests that change state without the CSRF token, and signs out server-side', async () => {
    const b = new Browser();
    await b.signIn('alice');
    const cookie = b.cookie(PUBLIC, 'promoter_session')!;
    const csrf = b.cookie(PUBLIC, 'promoter_csrf')!;
    const noToken = await b.request(`${PUBLIC}/auth/logout`, { method: 'POST' });
    expect(noToken.status).toBe(403);
    expect((noToken.body as { details: { check: string } }).details.check).toBe('csrf');
    const wrong = await b.request(`${PUBLIC}/api/v1/promotions`, { method: 'POST', headers: { 'X-CSRF-Token': 'x'.repeat(43) } });
    expect(wrong.status).toBe(403);
    expect((await me(b)).status).toBe(200);

    const out = await b.request(`${PUBLIC}/auth/logout`, { method: 'POST', headers: { 'X-CSRF-Token': csrf } });
    expect(out.status).toBe(200);
    // The old cookie, replayed after sign-out, is refused.
    const after = await t.api().get('/api/v1/me').set('Cookie', `promoter_session=${cookie}`);
    expect(after.status).toBe(401);
    expect(after.body.details.check).toBe('session_ended');
  });

  it('rotates the session at sign-in and ends the old one', async () => {
    const b = new Browser();
    await b.signIn('bob');
    const first = b.cookie(PUBLIC, 'promoter_session')!;
    await b.signIn('bob');
    const second = b.cookie(PUBLIC, 'promoter_session')!;
    expect(second).not.toBe(first);
    expect((await t.api().get('/api/v1/me').set('Cookie', `promoter_session=${first}`)).status).toBe(401);
    expect((await me(b)).body).toMatchObject({ person: 'bob@example.com', roles: [] });
  });

  it('re-derives roles from the provider after the refresh interval: a person removed from a group loses the role', async () => {
    const b = new Browser();
    await b.signIn('alice');
    expect((await me(b)).body).toMatchObject({ roles: ['release-manager'] });
    idp.users.get('alice')!.groups = ['staff'];
    await t.db.query(
      `UPDATE sessions SET refreshed_at = now() - interval '10 minutes' WHERE revoked_at IS NULL AND person = 'alice@example.com'`,
    );
    expect((await me(b)).body).toMatchObject({ person: 'alice@example.com', roles: [] });
    idp.users.get('alice')!.groups = ['release-managers', 'staff'];
  });

  it('ends an idle session', async () => {
    const b = new Browser();
    await b.signIn('bob');
    await t.db.query(
      `UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE revoked_at IS NULL AND person = 'bob@example.com'`,
    );
    const res = await me(b);
    expect(res.status).toBe(401);
    expect((res.body as { details: { check: string } }).details.check).toBe('session_idle');
  });
});

describe('sign-in attacks', () => {
  it.each([['https://evil.example/'], ['//evil.example/x'], ['/\\evil.example'], ['javascript:alert(1)'], ['http:/evil.example']])(
    'open redirect in returnTo: %s',
    async (returnTo) => {
      const res = await new Browser().request(`${PUBLIC}/auth/login?returnTo=${encodeURIComponent(returnTo)}`);
      expect(res.status).toBe(400);
      expect(res.location).toBeNull();
    },
  );

  it('a replayed callback, and a replayed authorization code under a new sign-in, sign no one in', async () => {
    const b = new Browser();
    const callback = await b.throughProvider('alice');
    expect((await b.request(callback)).status).toBe(302);
    const again = await b.request(callback);
    expect(again.status).toBe(401);

    // The same code presented for a fresh sign-in of this browser: the provider refuses it.
    const fresh = await b.request(`${PUBLIC}/auth/login`);
    const state = new URL(fresh.location!).searchParams.get('state')!;
    const replay = new URL(callback);
    replay.searchParams.set('state', state);
    const res = await b.request(replay.href);
    expect(res.status).toBe(401);
    expect((res.body as { details: { check: string } }).details.check).toBe('code');
  });

  it('state mismatch: a callback for a sign-in another browser started', async () => {
    const victim = new Browser();
    const attacker = new Browser();
    const callback = await attacker.throughProvider('bob');
    await victim.request(`${PUBLIC}/auth/login`);
    const res = await victim.request(callback);
    expect(res.status).toBe(401);
    expect((res.body as { details: { check: string } }).details.check).toBe('state');
    expect(victim.cookie(PUBLIC, 'promoter_session')).toBeUndefined();
  });

  it('nonce mismatch: an ID token not issued for this sign-in', async () => {
    const b = new Browser();
    const callback = await b.throughProvider('alice');
    const state = new URL(callback).searchParams.get('state')!;
    const { createHash } = await import('node:crypto');
    await t.db.query(`UPDATE sign_in_attempts SET nonce = 'another-sign-in' WHERE state_hash = $1`, [
      createHash('sha256').update(state).digest('hex'),
    ]);
    const res = await b.request(callback);
    expect(res.status).toBe(401);
    expect((res.body as { details: { check: string } }).details.check).toBe('nonce');
  });

  it('without a credential /api/v1/me is a 401, and API tokens answer it too', async () => {
    expect((await t.api().get('/api/v1/me')).status).toBe(401);
    const token = await t.token('ops', ['auditor']);
    const res = await t.api().get('/api/v1/me').set('Authorization', `Bearer ${token}`);
    expect(res.body).toMatchObject({ name: 'ops', person: 'ops', roles: ['auditor'], credential: 'token' });
    expect(res.body.csrfToken).toBeUndefined();
  });
});
