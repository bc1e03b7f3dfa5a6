import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importOsv, type OsvDocument } from '#libs/scanning/index.js';
import { gzipBomb, symlinkChain, zstdBomb } from '../helpers/hostile-images.js';
import { layer, pushLayers, type BuiltLayer, type TarEntry } from '../helpers/layers.js';
import { CRITICAL_V3, DEBIAN_12_OS_RELEASE, dpkgStatus, osvRecord } from '../helpers/scan-images.js';
import { eventually, localPipeline, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

// The hostile-image corpus of issue 12, through the real gates: package databases hidden behind
// symlinks, hard links and layer-replaced directories; decompression and symlink bombs; users that
// are root under another spelling. Each case asserts the gate's verdict and its reason.

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const reg = () => ({ url: `http://${registryHost()}` });
const fixed = (v: string) => [{ introduced: '0' }, { fixed: v }];
const MiB = 1024 * 1024;
/** Each test promotes several images at once; bombs read hundreds of MiB each on a shared, loaded machine. */
const TEST_TIMEOUT_MS = 240_000;

async function* docs(records: unknown[]): AsyncGenerator<OsvDocument> {
  for (const [i, r] of records.entries()) yield { name: `r${i}.json`, bytes: Buffer.from(JSON.stringify(r)) };
}

const STATUS = dpkgStatus([
  { name: 'libssl3', version: '3.0.11-1~deb12u1', source: 'openssl' },
  { name: 'openssl', version: '3.0.11-1~deb12u1' },
]);
const OS: TarEntry[] = [{ name: 'etc/os-release', content: DEBIAN_12_OS_RELEASE }];
const APK = 'C:Q1test=\nP:libcrypto3\nV:3.1.4-r4\nA:x86_64\no:openssl\n';
const ALPINE_OS = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n';

interface GateView {
  gate: string;
  status: string;
  summary: string;
  evidence: Record<string, any>;
}

describe('hostile images at the scan and policy gates', () => {
  let t: TestApp;
  let ci: string;

  beforeAll(async () => {
    t = await startTestApp({
      pipeline: `${localPipeline()}  - name: staging
    from: dev
    repository: local/hostile-staging/{app}
    gates: { scan: { failOn: high, maxAge: 1h } }
  - name: hardened
    from: dev
    repository: local/hostile-hardened/{app}
    gates: { policy: { rules: [non-root, no-shell] } }
limits:
  image: { maxUncompressedBytes: 256MiB, maxFileBytes: 1MiB, maxWallTime: 90s }
`,
    });
    ci = await t.token('ci', ['ci']);
    await importOsv(
      t.app.get(DataSource),
      docs([
        osvRecord('DSA-5532-1', 'Debian:12', 'openssl', fixed('3.0.11-1~deb12u2'), { severity: CRITICAL_V3 }),
        osvRecord('CVE-2024-0727', 'Alpine:v3.19', 'openssl', fixed('3.1.4-r5'), { severity: CRITICAL_V3 }),
        osvRecord('GHSA-35jh-r3h4-6jhm', 'npm', 'lodash', fixed('4.17.21'), { database_specific: { severity: 'HIGH' } }),
        osvRecord('PYSEC-2099-1', 'PyPI', 'requests', fixed('2.31.0'), { severity: CRITICAL_V3 }),
      ]),
      { source: 'hostile' },
    );
  }, 60_000);
  afterAll(() => t?.close());

  async function push(app: string, layers: (TarEntry[] | BuiltLayer)[], config: Record<string, unknown> = {}) {
    const built: BuiltLayer[] = [];
    for (const l of layers) built.push(Array.isArray(l) ? await layer(l) : l);
    return (await pushLayers(reg(), `dev/${app}`, built, { config, created: new Date().toISOString() })).digest;
  }

  /** Promotes each image to `target` at once and waits for every gate verdict. */
  async function gates(target: string, gate: string, images: Record<string, string>): Promise<Record<string, GateView>> {
    const ids = await Promise.all(
      Object.entries(images).map(async ([app, digest]) => {
        const res = await t
          .api()
          .post('/api/v1/promotions')
          .set(auth(ci))
          .send({ image: `${registryHost()}/dev/${app}@${digest}`, target });
        expect(res.status, app).toBe(202);
        return [app, res.body.id as string] as const;
      }),
    );
    const out: Record<string, GateView> = {};
    for (const [app, id] of ids) {
      const done = await eventually(async () => {
        const res = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
        return !['pending', 'evaluating'].includes(res.body.status) && res.body;
      }, 120_000);
      out[app] = done.gates.find((g: GateView) => g.gate === gate);
    }
    return out;
  }

  it(
    'package databases hidden behind links are read: the scan gate finds what they hold',
    async () => {
      const images = {
        // var/lib/dpkg/status -> /opt/pkgdb/status
        'dpkg-symlink': await push('dpkg-symlink', [
          [
            ...OS,
            { name: 'opt/pkgdb/status', content: STATUS },
            { name: 'var/lib/dpkg/status', type: 'symlink', linkname: '/opt/pkgdb/status' },
          ],
        ]),
        // /var/lib/dpkg replaced by a symlink in a later layer; the decoy status below it is gone.
        'dpkg-layer-replaced': await push('dpkg-layer-replaced', [
          [...OS, { name: 'var/lib/dpkg/status', content: '' }, { name: 'opt/pkgdb/status', content: STATUS }],
          [{ name: 'var/lib/dpkg', type: 'symlink', linkname: '../../opt/pkgdb' }],
        ]),
        // A hard link whose source is not a path the scanner wants.
        'dpkg-hardlink': await push('dpkg-hardlink', [
          [...OS, { name: 'opt/db', content: STATUS }, { name: 'var/lib/dpkg/status', type: 'link', linkname: 'opt/db' }],
        ]),
        // os-release only at /usr/lib/os-release, itself a link: without it the ecosystem is unknown.
        'os-release-link': await push('os-release-link', [
          [
            { name: 'opt/release', content: DEBIAN_12_OS_RELEASE },
            { name: 'usr/lib/os-release', type: 'symlink', linkname: '/opt/release' },
            { name: 'var/lib/dpkg/status', content: STATUS },
          ],
        ]),
        'apk-symlink': await push('apk-symlink', [
          [
            { name: 'etc/os-release', content: ALPINE_OS },
            { name: 'opt/apk/installed', content: APK },
            { name: 'lib/apk/db', type: 'symlink', linkname: '/opt/apk' },
          ],
        ]),
        'npm-linked-dir': await push('npm-linked-dir', [
          [
            ...OS,
            { name: 'opt/mods/lodash/package.json', content: JSON.stringify({ name: 'lodash', version: '4.17.20' }) },
            { name: 'app/node_modules', type: 'symlink', linkname: '/opt/mods' },
          ],
        ]),
        'python-hardlink': await push('python-hardlink', [
          [
            ...OS,
            { name: 'opt/meta', content: 'Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\n' },
            { name: 'usr/lib/python3/dist-packages/requests-2.30.0.dist-info/METADATA', type: 'link', linkname: 'opt/meta' },
          ],
        ]),
      };
      const found = await gates('staging', 'scan', images);

      for (const app of ['dpkg-symlink', 'dpkg-layer-replaced', 'dpkg-hardlink', 'os-release-link']) {
        expect(found[app], app).toMatchObject({ status: 'failed' });
        expect(found[app]!.summary, app).toContain('DSA-5532-1 in libssl3 3.0.11-1~deb12u1 (critical, builtin)');
      }
      expect(found['apk-symlink']!.summary).toContain('CVE-2024-0727 in libcrypto3 3.1.4-r4 (critical, builtin)');
      expect(found['npm-linked-dir']!.summary).toContain('GHSA-35jh-r3h4-6jhm in lodash 4.17.20 (high, builtin)');
      expect(found['python-hardlink']!.summary).toContain('PYSEC-2099-1 in requests 2.30.0 (critical, builtin)');
      for (const app of Object.keys(images)) expect(found[app]!.status, app).toBe('failed');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a package database that exists but cannot be read fails the scan gate closed, naming the path',
    async () => {
      const images = {
        dangling: await push('dangling', [[...OS, { name: 'var/lib/dpkg/status', type: 'symlink', linkname: '/nowhere/status' }]]),
        loop: await push('loop', [
          [
            ...OS,
            { name: 'var/lib/dpkg/a', type: 'symlink', linkname: 'status' },
            { name: 'var/lib/dpkg/status', type: 'symlink', linkname: 'a' },
          ],
        ]),
        'too-large': await push('too-large', [
          [
            ...OS,
            { name: 'opt/big', content: STATUS + '\n'.repeat(2 * MiB) },
            { name: 'var/lib/dpkg/status', type: 'symlink', linkname: '/opt/big' },
          ],
        ]),
        'apk-dangling': await push('apk-dangling', [
          [
            { name: 'etc/os-release', content: ALPINE_OS },
            { name: 'lib/apk/db/installed', type: 'link', linkname: 'gone' },
          ],
        ]),
        // Issue 12's symlink bomb: 40 links of 20,000 `./` each, the status at the end of the chain.
        'chain-bomb': await push('chain-bomb', [
          [
            ...OS,
            { name: 'opt/status', content: STATUS },
            ...symlinkChain({ links: 40, dots: 20_000, target: '/opt/status', head: 'var/lib/dpkg/status' }),
          ],
        ]),
      };
      const found = await gates('staging', 'scan', images);

      const reasons: Record<keyof typeof images, string> = {
        dangling: '/var/lib/dpkg/status cannot be read: a symlink to "/nowhere/status", which does not resolve inside the image',
        loop: '/var/lib/dpkg/status cannot be read: a symlink to "a" that does not end',
        'too-large': '/var/lib/dpkg/status (/opt/big) cannot be read: larger than limits.image.maxFileBytes',
        'apk-dangling': '/lib/apk/db/installed cannot be read: a hard link to /gone, which is not in the image',
        'chain-bomb': '/var/lib/dpkg/status cannot be read: a symlink whose target is longer than 4096 bytes',
      };
      for (const [app, reason] of Object.entries(reasons)) {
        expect(found[app], app).toMatchObject({ status: 'error', evidence: { code: 'unreadable_file' } });
        expect(found[app]!.summary, app).toContain(reason);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'decompression and path bombs stop at their limits: the scan gate reports error naming the limit',
    async () => {
      const images = {
        'zstd-bomb': await push('zstd-bomb', [zstdBomb(4 * 1024 * MiB)]),
        'gzip-bomb': await push('gzip-bomb', [gzipBomb(1024 * MiB)]),
        'zstd-window': await push('zstd-window', [zstdBomb(MiB, { windowLog: 31 })]),
        'link-fan-bomb': await push('link-fan-bomb', [
          [
            ...OS,
            { name: 'opt/status', content: STATUS },
            ...symlinkChain({ links: 39, dots: 2000, target: '/opt/status', head: 'var/lib/dpkg/status', fanIn: 200 }),
          ],
        ]),
      };
      const found = await gates('staging', 'scan', images);

      expect(found['zstd-bomb']!.summary).toContain('the image unpacks to more than 268435456 bytes (limits.image.maxUncompressedBytes)');
      expect(found['gzip-bomb']!.summary).toContain('the image unpacks to more than 268435456 bytes (limits.image.maxUncompressedBytes)');
      expect(found['zstd-window']!.summary).toContain('a zstd frame declares a 2147483648-byte window');
      expect(found['link-fan-bomb']!.summary).toContain('limits.image.maxPathComponents');
      for (const app of Object.keys(images))
        expect(found[app], app).toMatchObject({ status: 'error', evidence: { code: 'limit_exceeded' } });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'non-root: "00", "+0" and a passwd name with uid 0 are root; a name not in /etc/passwd is denied with the reason; a real user passes',
    async () => {
      // /etc/passwd reached through a symlink, as the runtime would read it.
      const passwd: TarEntry[] = [
        {
          name: 'opt/passwd',
          content: 'root:x:0:0:root:/root:/bin/false\ntoor:x:0:0::/root:/bin/false\napp:x:1000:1000::/app:/bin/false\n',
        },
        { name: 'etc/passwd', type: 'symlink', linkname: '/opt/passwd' },
        { name: 'etc/group', content: 'root:x:0:\napp:x:1000:\n' },
        { name: 'app/run', content: 'ELF' },
      ];
      const images: Record<string, string> = {};
      for (const [app, User] of [
        ['user-00', '00'],
        ['user-plus0', '+0'],
        ['user-toor', 'toor'],
        ['user-ghost', 'ghost'],
        ['user-app', 'app:app'],
      ] as const) {
        images[app] = await push(app, [passwd], { User });
      }
      const found = await gates('hardened', 'policy', images);

      const rule = (app: string) => found[app]!.evidence.rules.find((r: { name: string }) => r.name === 'non-root');
      expect(rule('user-00')).toMatchObject({
        outcome: 'fail',
        message: 'the image runs as root (config User is "00", uid 0); set USER to a non-root user',
      });
      expect(rule('user-plus0')).toMatchObject({
        outcome: 'fail',
        message: 'the image runs as root (config User is "+0", uid 0); set USER to a non-root user',
      });
      expect(rule('user-toor')).toMatchObject({
        outcome: 'fail',
        message: 'the image runs as root (config User is "toor", uid 0); set USER to a non-root user',
      });
      expect(rule('user-ghost')).toMatchObject({
        outcome: 'fail',
        message:
          'the image\'s user cannot be resolved (config User is "ghost"): user "ghost" is not in the image\'s /etc/passwd; set USER to a non-root user',
      });
      for (const app of ['user-00', 'user-plus0', 'user-toor', 'user-ghost'])
        expect(found[app], app).toMatchObject({ status: 'failed', summary: 'denied by non-root' });
      expect(found['user-app']).toMatchObject({ status: 'passed' });
    },
    TEST_TIMEOUT_MS,
  );
});
