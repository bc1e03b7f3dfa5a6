import { createHmac, createPublicKey } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/cli/src/cli.js';
import { githubClaims, gitlabClaims, startCiIssuer, type CiIssuer } from '../helpers/oidc-issuer.js';
import { devImage, digest, localPipeline, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

// CI proves who it is with its OIDC token: verified against the issuer's published keys, mapped
// to a principal by the first matching identity.ci rule, limited to its apps and environments.

let t: TestApp;
let github: CiIssuer;
let gitlab: CiIssuer;
let silent: CiIssuer;
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

beforeAll(async () => {
  [github, gitlab, silent] = await Promise.all([startCiIssuer(), startCiIssuer(), startCiIssuer()]);
  silent.down = true;
  t = await startTestApp({
    worker: false,
    pipeline: `${localPipeline()}  - name: staging
    from: dev
    repository: local/staging/{app}
    approvals: { required: 1, roles: [release-manager] }
  - name: prod
    from: staging
    repository: local/prod/{app}
identity:
  ci:
    - name: github-acme-web
      issuer: ${github.issuer}
      audience: image-promoter
      claims: { repository: acme/web, ref: refs/heads/main, workflow_ref: "acme/web/.github/workflows/*@refs/heads/main" }
      principal: "github:{repository}"
      roles: [ci]
      apps: ["{repository|last}"]
      environments: [staging]
    - name: gitlab-acme
      issuer: ${gitlab.issuer}
      audience: image-promoter
      claims: { project_path: "acme/*", ref_protected: true }
      principal: "gitlab:{project_path}"
      roles: [ci]
      apps: ["*"]
      environments: [staging]
    - name: never-reachable
      issuer: ${silent.issuer}
      audience: image-promoter
      principal: "x:{sub}"
      roles: [ci]
      apps: ["*"]
      environments: ["*"]
`,
  });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([github?.close(), gitlab?.close(), silent?.close()]);
});

const request = async (token: string, app = 'web', target = 'staging') =>
  t
    .api()
    .post('/api/v1/promotions')
    .set(auth(token))
    .send({ image: await devImage(app), target, reason: 'release from CI' });

describe('federated CI identity', () => {
  it('a GitHub Actions token requests a promotion as github:acme/web, with no stored secret', async () => {
    const res = await request(await github.sign(githubClaims(github.issuer)));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.requestedBy).toEqual({ id: 'oidc:github:acme/web', name: 'github:acme/web', person: 'github:acme/web' });
    const { rows } = await t.db.query(
      `SELECT actor, data->'actor' AS who FROM audit_events WHERE subject = $1 AND action = 'promotion.requested'`,
      [`promotion:${res.body.id}`],
    );
    expect(rows).toEqual([
      { actor: 'oidc:github:acme/web', who: { person: 'github:acme/web', name: 'github:acme/web', kind: 'workload', credential: 'oidc' } },
    ]);
  });

  it('a GitLab CI ID token from a protected ref of the acme group', async () => {
    const res = await request(await gitlab.sign(gitlabClaims(gitlab.issuer)), 'api');
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.requestedBy.name).toBe('gitlab:acme/api');
    // An unprotected ref matches no rule.
    const unprotected = await request(await gitlab.sign(gitlabClaims(gitlab.issuer, { ref_protected: 'false' })), 'api');
    expect(unprotected.status).toBe(403);
    expect(unprotected.body.details.check).toBe('no_rule');
    expect(unprotected.body.message).toContain('claim ref_protected');
  });

  it('may request only its own app and the environments its rule names', async () => {
    const token = await github.sign(githubClaims(github.issuer));
    const otherApp = await request(token, 'api');
    expect(otherApp.status).toBe(403);
    expect(otherApp.body.message).toMatch(/^app not allowed: github:acme\/web may request only web, not 'api'/);
    const other = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(token))
      .send({ image: `${registryHost()}/staging/web@${digest()}`, target: 'prod', reason: 'r' });
    expect(other.status).toBe(403);
    expect(other.body.message).toMatch(/^environment not allowed/);
    // Its role is ci: it cannot approve.
    const id = (await request(token)).body.id;
    expect((await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(token)).send({ decision: 'approve' })).status).toBe(403);
  });

  it('a token from another branch or repository matches no rule', async () => {
    const branch = await request(await github.sign(githubClaims(github.issuer, { ref: 'refs/heads/feature' })));
    expect(branch.status).toBe(403);
    expect(branch.body).toMatchObject({
      message: expect.stringContaining('claim ref is "refs/heads/feature"'),
      details: { check: 'no_rule' },
    });
    const fork = await request(await github.sign(githubClaims(github.issuer, { repository: 'evil/web' })));
    expect(fork.status).toBe(403);
  });

  describe('refusals say which check failed, as a 401, and never a 500', () => {
    const now = () => Math.floor(Date.now() / 1000);
    it.each([
      ['expired', () => ({ exp: now() - 600, iat: now() - 900, nbf: now() - 900 }), 'expired'],
      ['not yet valid', () => ({ nbf: now() + 600 }), 'not_yet_valid'],
      ['issued in the future', () => ({ iat: now() + 600, nbf: undefined }), 'issued_at'],
      ['issued too long ago', () => ({ iat: now() - 3 * 3600, exp: now() + 300 }), 'issued_at'],
      ['wrong audience', () => ({ aud: 'someone-else' }), 'audience'],
      ['no expiry', () => ({ exp: undefined }), 'expired'],
    ])('%s', async (_what, over, check) => {
      const res = await request(await github.sign(githubClaims(github.issuer, over())));
      expect(res.status).toBe(401);
      expect(res.body.details.check).toBe(check);
    });

    it('wrong issuer: a key the service does not trust, an issuer it does not know', async () => {
      const stranger = await startCiIssuer();
      try {
        const res = await request(await stranger.sign(githubClaims(stranger.issuer)));
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ details: { check: 'issuer' }, message: expect.stringContaining('wrong issuer') });
        // Claiming a trusted issuer but signed with the stranger's key: no such key there.
        const forged = await request(await stranger.sign(githubClaims(github.issuer)));
        expect(forged.status).toBe(401);
        expect(forged.body.details.check).toBe('unknown_key');
        // Same kid as the trusted key, other key material: the signature fails.
        const sameKid = await request(await stranger.sign(githubClaims(github.issuer), { header: { kid: github.published[0]!.kid } }));
        expect(sameKid.status).toBe(401);
        expect(sameKid.body.details.check).toBe('signature');
      } finally {
        await stranger.close();
      }
    });

    it('alg none and HS256 signed with the public key are refused', async () => {
      const claims = githubClaims(github.issuer);
      const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
      const r1 = await request(none);
      expect(r1.status).toBe(401);
      expect(r1.body.details.check).toBe('algorithm');
      const pem = createPublicKey({ key: github.published[0]!.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: github.published[0]!.kid })}.${b64(claims)}`;
      const hs = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      const r2 = await request(hs);
      expect(r2.status).toBe(401);
      expect(r2.body).toMatchObject({ details: { check: 'algorithm' }, message: expect.stringContaining('HS256') });
    });

    it('an unknown kid is refused after the keys are fetched again', async () => {
      const unpublished = await github.newKey(false);
      const res = await request(await github.sign(githubClaims(github.issuer), { key: unpublished }));
      expect(res.status).toBe(401);
      expect(res.body.details.check).toBe('unknown_key');
    });

    it('a trusted issuer that cannot be reached, with no keys cached', async () => {
      const res = await request(await silent.sign(githubClaims(silent.issuer)));
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ details: { check: 'jwks_unavailable' } });
    });

    it('tokens already verified keep working from the cache while the issuer is down', async () => {
      github.down = true;
      try {
        const res = await request(await github.sign(githubClaims(github.issuer)));
        expect(res.status).toBe(202);
      } finally {
        github.down = false;
      }
    });

    it('garbage that looks like a JWT', async () => {
      const res = await request('eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln');
      expect(res.status).toBe(401);
      expect(res.body.details.check).toBe('malformed');
    });
  });
});

describe('promoctl promote --oidc', () => {
  async function promoctl(args: string[], env: Record<string, string>) {
    let stdout = '';
    let stderr = '';
    const url = `http://127.0.0.1:${(t.http.getHttpServer().address() as AddressInfo).port}`;
    const code = await runCli(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: { PROMOTER_URL: url, ...env } });
    return { code, stdout, stderr };
  }

  it("asks the GitHub Actions runtime for a token with the audience, reads GitLab's ID token, or any variable", async () => {
    await t.http.listen(0, '127.0.0.1');
    // The Actions runtime's token endpoint: a bearer of the runner's request token, ?audience=.
    const asked: string[] = [];
    const runtime = createServer(async (req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      asked.push(`${req.headers.authorization} ${u.searchParams.get('audience')}`);
      if (req.headers.authorization !== 'bearer runner-request-token') return void res.writeHead(401).end();
      const aud = u.searchParams.get('audience') ?? '';
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ count: 1, value: await github.sign(githubClaims(github.issuer, { aud })) }));
    });
    await new Promise<void>((r) => runtime.listen(0, '127.0.0.1', r));
    try {
      const runtimeUrl = `http://127.0.0.1:${(runtime.address() as AddressInfo).port}/token?api-version=2.0`;
      const gh = await promoctl(['promote', '--image', await devImage('web'), '--to', 'staging', '--oidc', 'github', '--json'], {
        ACTIONS_ID_TOKEN_REQUEST_URL: runtimeUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token',
      });
      expect(gh.code, gh.stderr).toBe(0);
      expect(JSON.parse(gh.stdout).requestedBy.name).toBe('github:acme/web');
      expect(asked).toEqual(['bearer runner-request-token image-promoter']);

      const gl = await promoctl(['promote', '--image', await devImage('api'), '--to', 'staging', '--oidc', 'gitlab', '--json'], {
        PROMOTER_ID_TOKEN: await gitlab.sign(gitlabClaims(gitlab.issuer)),
      });
      expect(gl.code, gl.stderr).toBe(0);
      expect(JSON.parse(gl.stdout).requestedBy.name).toBe('gitlab:acme/api');

      const viaEnv = await promoctl(['promote', '--image', await devImage('web'), '--to', 'staging', '--oidc', 'env:MY_TOKEN', '--json'], {
        MY_TOKEN: await github.sign(githubClaims(github.issuer)),
      });
      expect(viaEnv.code, viaEnv.stderr).toBe(0);

      const missing = await promoctl(['promote', '--image', await devImage('web'), '--to', 'staging', '--oidc', 'github'], {});
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain('id-token: write');
      const refused = await promoctl(['promote', '--image', await devImage('web'), '--to', 'staging', '--oidc', 'env:MY_TOKEN'], {
        MY_TOKEN: await github.sign(githubClaims(github.issuer, { aud: 'other' })),
      });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('wrong audience');
      expect(refused.stderr).not.toContain('eyJ');
    } finally {
      await new Promise((r) => runtime.close(r));
    }
  });
});
