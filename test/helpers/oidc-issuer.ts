import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

// A loopback CI token issuer: the discovery document and key set a GitHub Actions or GitLab CI
// issuer publishes, and tokens signed with its keys in the claim shapes those systems document.

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface CiIssuer {
  issuer: string;
  /** Keys whose public half the key set publishes. */
  published: SigningKey[];
  /** Requests the server has answered, by path. */
  hits: string[];
  newKey(publish?: boolean): Promise<SigningKey>;
  sign(claims: JWTPayload, options?: { key?: SigningKey; alg?: string; header?: Record<string, unknown> }): Promise<string>;
  /** While true, every request is answered 503 (the issuer is down). */
  down: boolean;
  close(): Promise<void>;
}

export async function startCiIssuer(): Promise<CiIssuer> {
  const hits: string[] = [];
  const published: SigningKey[] = [];
  const state = { down: false };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.push(path);
    if (state.down) return void res.writeHead(503).end();
    res.setHeader('content-type', 'application/json');
    if (path === '/.well-known/openid-configuration') {
      return void res.end(
        JSON.stringify({
          issuer: base,
          jwks_uri: `${base}/.well-known/jwks`,
          subject_types_supported: ['public', 'pairwise'],
          response_types_supported: ['id_token'],
          claims_supported: [
            'sub',
            'aud',
            'exp',
            'iat',
            'iss',
            'jti',
            'nbf',
            'ref',
            'repository',
            'repository_owner',
            'workflow',
            'workflow_ref',
            'environment',
          ],
          id_token_signing_alg_values_supported: ['RS256'],
          scopes_supported: ['openid'],
        }),
      );
    }
    if (path === '/.well-known/jwks') return void res.end(JSON.stringify({ keys: published.map((k) => k.publicJwk) }));
    res.writeHead(404).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const newKey = async (publish = true): Promise<SigningKey> => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = randomUUID();
    const key = { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
    if (publish) published.push(key);
    return key;
  };
  const first = await newKey();

  return {
    issuer: base,
    published,
    hits,
    newKey,
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    async sign(claims, options = {}) {
      const key = options.key ?? first;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: options.alg ?? 'RS256', typ: 'JWT', kid: key.kid, ...options.header })
        .sign(key.privateKey);
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const now = () => Math.floor(Date.now() / 1000);

/** The claims of a GitHub Actions OIDC token, as GitHub documents them. */
export function githubClaims(issuer: string, over: Partial<Record<string, unknown>> = {}): JWTPayload {
  const t = now();
  return {
    jti: randomUUID(),
    sub: 'repo:acme/web:ref:refs/heads/main',
    aud: 'image-promoter',
    ref: 'refs/heads/main',
    sha: 'e1f9e3c4a5b6d7e8f9a0b1c2d3e4f5a6b7c8d9e0',
    repository: 'acme/web',
    repository_owner: 'acme',
    repository_owner_id: '65',
    repository_visibility: 'private',
    repository_id: '74',
    actor_id: '12',
    actor: 'octocat',
    run_id: '7512345678',
    run_number: '10',
    run_attempt: '1',
    runner_environment: 'github-hosted',
    workflow: 'release',
    workflow_ref: 'acme/web/.github/workflows/release.yml@refs/heads/main',
    workflow_sha: 'e1f9e3c4a5b6d7e8f9a0b1c2d3e4f5a6b7c8d9e0',
    job_workflow_ref: 'acme/web/.github/workflows/release.yml@refs/heads/main',
    job_workflow_sha: 'e1f9e3c4a5b6d7e8f9a0b1c2d3e4f5a6b7c8d9e0',
    head_ref: '',
    base_ref: '',
    event_name: 'push',
    ref_type: 'branch',
    ref_protected: 'true',
    iss: issuer,
    nbf: t - 5,
    iat: t - 5,
    exp: t + 300,
    ...over,
  };
}

/** The claims of a GitLab CI ID token (`id_tokens:`), as GitLab documents them. */
export function gitlabClaims(issuer: string, over: Partial<Record<string, unknown>> = {}): JWTPayload {
  const t = now();
  return {
    namespace_id: '72',
    namespace_path: 'acme',
    project_id: '20',
    project_path: 'acme/api',
    user_id: '1',
    user_login: 'sample-user',
    user_email: 'sample-user@example.com',
    user_access_level: 'maintainer',
    pipeline_id: '574',
    pipeline_source: 'push',
    job_id: '302',
    ref: 'main',
    ref_type: 'branch',
    ref_path: 'refs/heads/main',
    ref_protected: 'true',
    runner_id: 1,
    runner_environment: 'gitlab-hosted',
    sha: '714a629c0b401fdce83e847fc9589983fc6f46bc',
    project_visibility: 'private',
    ci_config_ref_uri: 'gitlab.example.com/acme/api//.gitlab-ci.yml@refs/heads/main',
    ci_config_sha: '714a629c0b401fdce83e847fc9589983fc6f46bc',
    jti: randomUUID(),
    iss: issuer,
    iat: t - 5,
    nbf: t - 10,
    exp: t + 300,
    sub: 'project_path:acme/api:ref_type:branch:ref:main',
    aud: 'image-promoter',
    ...over,
  };
}
