import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { githubClaims, startCiIssuer, type CiIssuer } from '../../test/helpers/oidc-issuer.js';
import { identitySchema } from '#libs/config/index.js';
import { CiFederation, fillTemplate, globMatches } from './ci-federation.js';

describe('globMatches', () => {
  it.each([
    ['refs/heads/main', 'refs/heads/main', true],
    ['refs/heads/*', 'refs/heads/main', true],
    ['refs/heads/*', 'refs/heads/a/b', false],
    ['refs/heads/**', 'refs/heads/a/b', true],
    ['acme/*', 'acme/web', true],
    ['acme/*', 'acme-evil/web', false],
    ['v?.0', 'v1.0', true],
    ['a.b', 'axb', false],
    ['true', 'true', true],
  ])('%s ~ %s → %s', (glob, value, expected) => {
    expect(globMatches(glob, value)).toBe(expected);
  });
});

describe('fillTemplate', () => {
  it('fills claims, takes the last path part with |last, and fails on a missing claim', () => {
    expect(fillTemplate('github:{repository}', { repository: 'acme/web' })).toBe('github:acme/web');
    expect(fillTemplate('{repository|last}', { repository: 'acme/web' })).toBe('web');
    expect(fillTemplate('github:{repository}', {})).toBeNull();
    expect(fillTemplate('x:{groups}', { groups: ['a'] })).toBeNull();
  });
});

describe('CiFederation key cache', () => {
  let issuer: CiIssuer;
  let ci: CiFederation;
  beforeAll(async () => {
    issuer = await startCiIssuer();
    const identity = identitySchema.parse({
      ci: [
        {
          name: 'gh',
          issuer: issuer.issuer,
          audience: 'image-promoter',
          principal: 'github:{repository}',
          roles: ['ci'],
          apps: ['*'],
          environments: ['*'],
        },
      ],
    });
    // Keys count as stale at once and an unknown kid may refetch at once: every path is exercised.
    ci = new CiFederation(identity.ci, { maxAgeMs: 0, cooldownMs: 0 });
  });
  afterAll(() => issuer?.close());

  it('follows a key rotation, and keeps verifying from the cache while the issuer is down', async () => {
    expect((await ci.authenticate(await issuer.sign(githubClaims(issuer.issuer)))).name).toBe('github:acme/web');
    const rotated = await issuer.newKey();
    expect((await ci.authenticate(await issuer.sign(githubClaims(issuer.issuer), { key: rotated }))).name).toBe('github:acme/web');

    issuer.down = true;
    const before = issuer.hits.length;
    expect((await ci.authenticate(await issuer.sign(githubClaims(issuer.issuer), { key: rotated }))).roles).toEqual(['ci']);
    expect(issuer.hits.length).toBeGreaterThan(before);
    const unknown = await issuer.newKey(false);
    await expect(ci.authenticate(await issuer.sign(githubClaims(issuer.issuer), { key: unknown }))).rejects.toMatchObject({
      code: 'unauthorized',
      details: { check: 'unknown_key' },
    });
    issuer.down = false;
  });
});
