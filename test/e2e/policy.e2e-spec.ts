import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policyOf } from '#libs/config/index.js';
import { layer, pushIndexOf, pushLayers, type TarEntry } from '../helpers/layers.js';
import { pushImage } from '../helpers/images.js';
import { eventually, localPipeline, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const reg = () => ({ url: `http://${registryHost()}` });

const pipeline = () => `${localPipeline()}  - name: staging
    from: dev
    repository: local/staging/{app}
    gates:
      policy:
        rules: [non-root, no-shell, no-package-manager, single-platform-or-index, { name: no-latest-tag, severity: warn }]
        custom:
          - name: corporate-registry
            expression: image.registry == "registry.corp.example"
            message: "images must come from registry.corp.example, not {{image.registry}}"
            severity: warn
    approvals: { required: 1, roles: [release-manager] }
  - name: qa
    from: dev
    repository: local/qa/{app}
    gates:
      policy:
        custom:
          - name: team-label
            expression: config.Labels["team"] == "web"
            message: "team is {{config.Labels}}"
    approvals: { required: 1, roles: [release-manager] }
  - name: open
    from: dev
    repository: local/open/{app}
`;

const BUSYBOX: TarEntry[] = [
  { name: 'bin', type: 'directory' },
  { name: 'bin/busybox', content: '#!busybox' },
  { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
  { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n' },
];
const APT: TarEntry[] = [
  { name: 'usr/bin', type: 'directory' },
  { name: 'usr/bin/apt-get', content: 'apt' },
  { name: 'usr/bin/dpkg', content: 'dpkg' },
];
const APP: TarEntry[] = [{ name: 'app', content: 'the application' }];

/** Pushes an image whose filesystem is the given layers, tagged in dev/<app>; returns its digest. */
async function push(app: string, layers: TarEntry[][], config: Record<string, unknown>, tag = '1.0.0', architecture = 'amd64') {
  const built = [];
  for (const entries of layers) built.push(await layer(entries));
  return pushLayers(reg(), `dev/${app}`, built, { tag, architecture, config, created: new Date().toISOString() });
}

describe('the policy gate', () => {
  let t: TestApp;
  let ci: string;
  let auditor: string;
  let rootDigest: string;
  beforeAll(async () => {
    t = await startTestApp({ pipeline: pipeline() });
    ci = await t.token('ci', ['ci']);
    auditor = await t.token('auditor', ['auditor']);
    // Root, with a shell and a package manager.
    rootDigest = (await push('rooty', [BUSYBOX, APT, APP], { Cmd: ['/app'], Env: ['PATH=/bin', 'SECRET_TOKEN=hunter2'] })).digest;
    // Distroless-style: a non-root user, no shell. The shell of the lower layer is whited out.
    await push('distroless', [BUSYBOX, [{ name: 'bin/.wh.sh' }, { name: 'bin/.wh.busybox' }], APP], {
      User: '65532:65532',
      Entrypoint: ['/app'],
    });
    // Non-root, but it has a shell.
    await push('shelled', [BUSYBOX, APP], { User: 'app' });
  });
  afterAll(() => t?.close());

  async function promote(image: string, target = 'staging') {
    const created = await t.api().post('/api/v1/promotions').set(auth(ci)).send({ image, target });
    expect(created.status).toBe(202);
    const done = await eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
      return res.body.status !== 'pending' && res.body.status !== 'evaluating' && res.body;
    }, 20_000);
    return { promotion: done, gate: done.gates.find((g: { gate: string }) => g.gate === 'policy') };
  }

  it('blocks an image that runs as root with a shell and a package manager, and says why', async () => {
    const { promotion, gate } = await promote(`${registryHost()}/dev/rooty:1.0.0`);
    expect(promotion.status).toBe('blocked');
    expect(gate.status).toBe('failed');
    expect(gate.summary).toBe('denied by non-root, no-shell, no-package-manager; warnings: corporate-registry');
    const byName = Object.fromEntries(gate.evidence.rules.map((r: { name: string }) => [r.name, r]));
    expect(byName['non-root']).toEqual({
      name: 'non-root',
      severity: 'deny',
      outcome: 'fail',
      message: 'the image runs as root (config User is not set); set USER to a non-root user',
      platform: 'linux/amd64',
    });
    expect(byName['no-shell'].message).toBe('the image contains a shell: /bin/sh');
    expect(byName['no-package-manager'].message).toBe('the image contains a package manager: apt-get, dpkg');
    expect(byName['corporate-registry']).toMatchObject({
      severity: 'warn',
      outcome: 'fail',
      message: `images must come from registry.corp.example, not ${registryHost()}`,
    });
    expect(byName['single-platform-or-index'].outcome).toBe('pass');
    expect(byName['no-latest-tag'].outcome).toBe('pass');
    // The digest of the rules in force, as resolved from the pipeline file.
    expect(gate.evidence.policyDigest).toBe(policyOf(t.config.environment('staging')!.gates.policy)!.policyDigest);
    expect(gate.evidence.denied).toEqual([
      { name: 'non-root', platform: 'linux/amd64' },
      { name: 'no-shell', platform: 'linux/amd64' },
      { name: 'no-package-manager', platform: 'linux/amd64' },
    ]);
    // Env values never reach the evidence.
    expect(JSON.stringify(promotion)).not.toContain('hunter2');
  });

  it('passes a non-root distroless image whose lower layer had a shell (whiteouts honoured)', async () => {
    const { promotion, gate } = await promote(`${registryHost()}/dev/distroless:1.0.0`);
    expect(gate.status).toBe('passed');
    expect(promotion.status).toBe('awaiting_approval');
    expect(gate.summary).toBe('6 rule(s) passed on linux/amd64; warnings: corporate-registry');
    expect(gate.evidence.warnings).toEqual([{ name: 'corporate-registry', platform: 'linux/amd64' }]);
  });

  it('blocks a non-root image that has a shell, on no-shell alone', async () => {
    const { gate } = await promote(`${registryHost()}/dev/shelled:1.0.0`);
    expect(gate.status).toBe('failed');
    expect(gate.evidence.denied).toEqual([{ name: 'no-shell', platform: 'linux/amd64' }]);
  });

  it('evaluates every platform of a multi-arch index and names the one that failed', async () => {
    // No /etc/passwd here: a numeric user needs none (a name would be denied as unresolvable).
    const good = await push('multi', [APP], { User: '65534' }, 'amd64-only', 'amd64');
    const bad = await push('multi', [BUSYBOX, APP], {}, 'arm64-only', 'arm64');
    await pushIndexOf(
      reg(),
      'dev/multi',
      [
        { digest: good.digest, size: good.size, architecture: 'amd64' },
        { digest: bad.digest, size: bad.size, architecture: 'arm64' },
      ],
      '2.0.0',
    );
    const { gate } = await promote(`${registryHost()}/dev/multi:2.0.0`);
    expect(gate.status).toBe('failed');
    expect(gate.evidence.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    expect(gate.evidence.denied).toEqual([
      { name: 'non-root', platform: 'linux/arm64' },
      { name: 'no-shell', platform: 'linux/arm64' },
    ]);
    expect(gate.summary).toBe(
      'denied by non-root (linux/arm64), no-shell (linux/arm64); warnings: corporate-registry (linux/amd64), corporate-registry (linux/arm64)',
    );
    const amd = gate.evidence.rules.filter((r: { platform: string }) => r.platform === 'linux/amd64');
    expect(amd.filter((r: { severity: string; outcome: string }) => r.severity === 'deny' && r.outcome !== 'pass')).toEqual([]);
  });

  it('a rule that errors at evaluation fails closed with the error in the evidence', async () => {
    const { promotion, gate } = await promote(`${registryHost()}/dev/distroless:1.0.0`, 'qa');
    expect(promotion.status).toBe('blocked');
    expect(gate.status).toBe('failed');
    expect(gate.evidence.rules).toEqual([
      {
        name: 'team-label',
        severity: 'deny',
        outcome: 'error',
        message: expect.stringMatching(/^evaluation failed: No such key: team/),
        platform: 'linux/amd64',
      },
    ]);
  });

  it('reports error, not a crash, for an image whose blobs the registry lost', async () => {
    // The manifest is there (the request is accepted), its config and layer are gone.
    const url = `http://${registryHost()}`;
    const lost = await pushImage({ url }, 'dev/ghost', { layers: 1, layerSize: 64 });
    for (const blob of [lost.config, ...lost.layers]) {
      expect((await fetch(`${url}/v2/dev/ghost/blobs/${blob.digest}`, { method: 'DELETE' })).status).toBe(202);
    }
    const { promotion, gate } = await promote(`${registryHost()}/dev/ghost@${lost.digest}`);
    expect(promotion.status).toBe('blocked');
    expect(gate.status).toBe('error');
    expect(gate.summary).toMatch(/^the image's facts could not be read: registry: /);
  });

  describe('POST /api/v1/policy/evaluate', () => {
    const count = async (table: string) => (await t.db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;

    it('resolves the tag, runs the target environment rules, and writes nothing', async () => {
      const before = [await count('promotions'), await count('audit_events'), await count('gate_results')];
      const res = await t
        .api()
        .post('/api/v1/policy/evaluate')
        .set(auth(ci))
        .send({ image: `${registryHost()}/dev/rooty:1.0.0`, target: 'staging' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        image: `${registryHost()}/dev/rooty@${rootDigest}`,
        tag: '1.0.0',
        target: 'staging',
        status: 'failed',
        summary: 'denied by non-root, no-shell, no-package-manager; warnings: corporate-registry',
        policyDigest: policyOf(t.config.environment('staging')!.gates.policy)!.policyDigest,
        platforms: ['linux/amd64'],
      });
      expect(res.body.rules).toHaveLength(6);
      expect(res.body.facts[0]).toMatchObject({
        image: { registry: registryHost(), repository: 'dev/rooty', tag: '1.0.0', platform: 'linux/amd64' },
        config: { User: '', Env: ['PATH', 'SECRET_TOKEN'], Cmd: ['/app'] },
        layerCount: 3,
        filesystem: { hasShell: true, shells: ['/bin/sh'], hasPackageManager: true, packageManagers: ['apt-get', 'dpkg'] },
        promotion: { requester: 'ci', source: 'dev', target: 'staging', reason: '' },
      });
      expect(JSON.stringify(res.body)).not.toContain('hunter2');
      expect([await count('promotions'), await count('audit_events'), await count('gate_results')]).toEqual(before);
    });

    it('passes the distroless image and accepts a digest reference', async () => {
      const tagged = await t
        .api()
        .post('/api/v1/policy/evaluate')
        .set(auth(ci))
        .send({ image: `${registryHost()}/dev/distroless:1.0.0`, target: 'staging' });
      expect(tagged.body.status).toBe('passed');
      const byDigest = await t.api().post('/api/v1/policy/evaluate').set(auth(ci)).send({ image: tagged.body.image, target: 'staging' });
      expect(byDigest.status).toBe(200);
      expect(byDigest.body).toMatchObject({ status: 'passed', tag: null, image: tagged.body.image });
    });

    it('refuses what it cannot evaluate with a clear 4xx', async () => {
      const post = (body: object, token = ci) => t.api().post('/api/v1/policy/evaluate').set(auth(token)).send(body);
      const elsewhere = await post({ image: 'registry.example.com/dev/web:1.0', target: 'staging' });
      expect(elsewhere.status).toBe(422);
      expect(elsewhere.body.message).toContain("registry 'registry.example.com' is not one of the registries named in the pipeline file");
      expect((await post({ image: `${registryHost()}/dev/rooty:1.0.0`, target: 'nowhere' })).status).toBe(422);
      const ungated = await post({ image: `${registryHost()}/dev/rooty:1.0.0`, target: 'open' });
      expect(ungated.status).toBe(422);
      expect(ungated.body.message).toBe("environment 'open' has no policy gate");
      const missing = await post({ image: `${registryHost()}/dev/rooty:9.9.9`, target: 'staging' });
      expect(missing.status).toBe(422);
      expect(missing.body.message).toContain('does not exist');
      expect((await post({ image: 'NOT A REF', target: 'staging' })).status).toBe(400);
      expect((await post({ image: `${registryHost()}/dev/rooty:1.0.0` })).status).toBe(400);
      expect((await post({ image: `${registryHost()}/dev/rooty:1.0.0`, target: 'staging' }, auditor)).status).toBe(403);
      expect(
        (
          await t
            .api()
            .post('/api/v1/policy/evaluate')
            .send({ image: `${registryHost()}/dev/rooty:1.0.0`, target: 'staging' })
        ).status,
      ).toBe(401);
    });

    it('answers generated input with 200 or a 4xx, never a 5xx', async () => {
      let seed = 42;
      const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
      const values = [
        '',
        ' ',
        'latest',
        '::',
        '@',
        'a'.repeat(600),
        '\u0000',
        '../../etc',
        'sha256:abc',
        42,
        null,
        true,
        [],
        {},
        ['x'],
        `${registryHost()}/dev/rooty`,
        `${registryHost()}/dev/rooty:1.0.0`,
        `${registryHost()}/dev/rooty@sha256:${'f'.repeat(64)}`,
        `${registryHost()}/dev/ROOTY:1`,
        `${registryHost()}//dev:1`,
        `${registryHost()}/dev/distroless:1.0.0@sha256:${'0'.repeat(64)}`,
        'staging',
        'qa',
        'open',
        'dev',
        'nowhere',
      ];
      for (let i = 0; i < 60; i++) {
        const body: Record<string, unknown> = {};
        if (rand(5) > 0) body.image = values[rand(values.length)];
        if (rand(5) > 0) body.target = values[rand(values.length)];
        if (rand(4) === 0) body.reason = values[rand(values.length)];
        if (rand(8) === 0) body.extra = 1;
        const res = await t.api().post('/api/v1/policy/evaluate').set(auth(ci)).send(body);
        expect(
          res.status === 200 || (res.status >= 400 && res.status < 500),
          `${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`,
        ).toBe(true);
      }
    });
  });
});
