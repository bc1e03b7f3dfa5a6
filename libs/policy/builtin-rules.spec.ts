import { afterAll, describe, expect, it } from 'vitest';
import { sampleFacts } from '../../test/helpers/policy-facts.js';
import { builtinRule, BUILTIN_RULE_NAMES, BUILTIN_RULES, type BuiltinRuleName } from './builtin-rules.js';
import { checkRule } from './check-rules.js';
import { PolicyEvaluator } from './evaluator.js';
import { resolveUser } from './user.js';
import type { ImageFacts } from './facts.js';
import type { ParamValue } from './rule.js';

const evaluator = new PolicyEvaluator();
afterAll(() => evaluator.close());

async function run(name: BuiltinRuleName, facts: ImageFacts, params: Record<string, ParamValue> = {}) {
  const [result] = await evaluator.evaluate(
    [facts as unknown as Record<string, unknown>],
    [{ rule: builtinRule(name, 'deny', params), facts: 0 }],
  );
  return result!;
}

const PARAMS: Partial<Record<BuiltinRuleName, Record<string, ParamValue>>> = {
  'allowed-registries': { registries: ['registry.corp.example'] },
  'trusted-base-image': { bases: ['gcr.io/distroless/static'] },
  'max-age': { maxAge: '2592000s', maxAgeText: '30d' },
  'required-labels': { labels: ['org.opencontainers.image.source'] },
};

describe('built-in rules', () => {
  it('all compile', () => {
    for (const name of BUILTIN_RULE_NAMES) expect(checkRule(BUILTIN_RULES[name]), name).toEqual([]);
  });

  it('all pass on a hardened image', async () => {
    for (const name of BUILTIN_RULE_NAMES)
      expect(await run(name, sampleFacts(), PARAMS[name]), name).toEqual({ outcome: 'pass', message: null });
  });

  it('non-root fails on no user, root, uid 0 in any spelling, and a name that resolves to uid 0 or not at all; passes a non-root uid with group 0', async () => {
    const passwd = Buffer.from(
      'root:x:0:0:root:/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\nbroken:x:zero:0::/:/bin/sh\nnobody:x:65534:65534::/:/sbin/nologin\napp:x:1000:1000::/app:/sbin/nologin\n',
    );
    const group = Buffer.from('root:x:0:\nwheel:x:10:\napp:x:1000:\n');
    const facts = (User: string) => sampleFacts({ config: { User }, user: resolveUser(User, { passwd, group }) });
    for (const User of ['', 'root', '0', '0:0', 'root:wheel', '00', '+0', '-0', '000:1000', 'toor', 'toor:app', 'broken', ':1000']) {
      expect((await run('non-root', facts(User))).outcome, User).toBe('fail');
    }
    expect((await run('non-root', facts(''))).message).toBe('the image runs as root (config User is not set); set USER to a non-root user');
    expect((await run('non-root', facts('root'))).message).toContain('config User is "root"');
    expect((await run('non-root', facts('+0'))).message).toBe(
      'the image runs as root (config User is "+0", uid 0); set USER to a non-root user',
    );
    expect((await run('non-root', facts('ghost'))).message).toBe(
      'the image\'s user cannot be resolved (config User is "ghost"): user "ghost" is not in the image\'s /etc/passwd; set USER to a non-root user',
    );
    expect((await run('non-root', facts('app:nogroup'))).message).toContain('group "nogroup" is not in the image\'s /etc/group');
    expect(
      (await run('non-root', sampleFacts({ config: { User: 'app' }, user: resolveUser('app', { passwd: null, group: null }) }))).message,
    ).toContain('the image has no /etc/passwd');
    for (const User of ['nobody', '1000', '1000:0', 'app', 'app:wheel', '10', '0010'])
      expect((await run('non-root', facts(User))).outcome, User).toBe('pass');
  });

  it('allowed-registries names the registry and the allowed list', async () => {
    const result = await run('allowed-registries', sampleFacts({ image: { registry: 'docker.io' } }), PARAMS['allowed-registries']);
    expect(result).toEqual({
      outcome: 'fail',
      message: 'the image comes from docker.io, which is not an allowed registry (registry.corp.example)',
    });
  });

  it('no-latest-tag fails on latest, passes a version and a digest-only request', async () => {
    expect((await run('no-latest-tag', sampleFacts({ image: { tag: 'latest' } }))).outcome).toBe('fail');
    expect((await run('no-latest-tag', sampleFacts({ image: { tag: null } }))).outcome).toBe('pass');
    expect((await run('no-latest-tag', sampleFacts({ image: { tag: 'latest-rc' } }))).outcome).toBe('pass');
  });

  it('trusted-base-image matches a name (with tag or digest) or a digest, and fails on others or no annotation', async () => {
    const params = PARAMS['trusted-base-image']!;
    const base = (name: string, digest = '') =>
      sampleFacts({
        annotations: { 'org.opencontainers.image.base.name': name, 'org.opencontainers.image.base.digest': digest } as Record<
          string,
          string
        >,
      });
    expect((await run('trusted-base-image', base('gcr.io/distroless/static'), params)).outcome).toBe('pass');
    expect((await run('trusted-base-image', base('gcr.io/distroless/static@sha256:' + 'c'.repeat(64)), params)).outcome).toBe('pass');
    expect((await run('trusted-base-image', base('', 'sha256:' + 'd'.repeat(64)), { bases: ['sha256:' + 'd'.repeat(64)] })).outcome).toBe(
      'pass',
    );
    expect(await run('trusted-base-image', base('docker.io/library/ubuntu:24.04', 'sha256:' + 'e'.repeat(64)), params)).toEqual({
      outcome: 'fail',
      message: `the base image docker.io/library/ubuntu:24.04@sha256:${'e'.repeat(64)} is not trusted; trusted bases: gcr.io/distroless/static`,
    });
    expect((await run('trusted-base-image', base('gcr.io/distroless/static-debian12'), params)).outcome).toBe('fail');
    expect((await run('trusted-base-image', base(''), params)).message).toContain('is not annotated');
  });

  it('no-shell and no-package-manager list what they found', async () => {
    const fs = { hasShell: true, shells: ['/bin/sh', '/bin/bash'], hasPackageManager: true, packageManagers: ['apt', 'dpkg'] };
    expect(await run('no-shell', sampleFacts({ filesystem: fs }))).toEqual({
      outcome: 'fail',
      message: 'the image contains a shell: /bin/sh, /bin/bash',
    });
    expect(await run('no-package-manager', sampleFacts({ filesystem: fs }))).toEqual({
      outcome: 'fail',
      message: 'the image contains a package manager: apt, dpkg',
    });
  });

  it('max-age fails on an old image and on one without a created date', async () => {
    const old = new Date(Date.now() - 45 * 86_400_000).toISOString();
    const result = await run('max-age', sampleFacts({ created: old }), PARAMS['max-age']);
    expect(result).toEqual({ outcome: 'fail', message: `the image was built ${old}; images older than 30d are refused` });
    expect((await run('max-age', sampleFacts({ created: null }), PARAMS['max-age'])).message).toContain('unknown time');
  });

  it('required-labels names the missing labels', async () => {
    const result = await run('required-labels', sampleFacts({ config: { Labels: { team: 'web' } } }), {
      labels: ['team', 'org.opencontainers.image.source', 'owner'],
    });
    expect(result).toEqual({ outcome: 'fail', message: 'the image lacks the label(s) org.opencontainers.image.source, owner' });
  });

  it('single-platform-or-index fails on an unknown platform, duplicate platforms and nested indexes', async () => {
    const entry = (platform: string, mediaType = 'application/vnd.oci.image.manifest.v1+json') => ({
      digest: 'sha256:' + 'f'.repeat(64),
      mediaType,
      platform,
    });
    expect((await run('single-platform-or-index', sampleFacts({ image: { platforms: ['unknown'], platform: 'unknown' } }))).outcome).toBe(
      'fail',
    );
    const dup = sampleFacts({
      image: { isIndex: true, platforms: ['linux/amd64', 'linux/amd64'], index: [entry('linux/amd64'), entry('linux/amd64')] },
    });
    expect((await run('single-platform-or-index', dup)).message).toContain('platforms: linux/amd64, linux/amd64');
    const nested = sampleFacts({
      image: {
        isIndex: true,
        platforms: ['linux/amd64'],
        index: [entry('linux/amd64'), entry('unknown', 'application/vnd.oci.image.index.v1+json')],
      },
    });
    expect((await run('single-platform-or-index', nested)).outcome).toBe('fail');
    const good = sampleFacts({
      image: { isIndex: true, platforms: ['linux/amd64', 'linux/arm64/v8'], index: [entry('linux/amd64'), entry('linux/arm64/v8')] },
    });
    expect((await run('single-platform-or-index', good)).outcome).toBe('pass');
  });
});
