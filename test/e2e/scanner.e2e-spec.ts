import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFsError } from '#libs/imagefs/index.js';
import { RegistryClient } from '#libs/registry/index.js';
import { importOsv, ScannerService, type OsvDocument } from '#libs/scanning/index.js';
import { freshDatabase, type FreshDatabase } from '../helpers/database.js';
import { layer, pushLayers, rawLayer } from '../helpers/layers.js';
import { registryConfig } from '../helpers/registry.js';
import { registryHost } from '../helpers/test-app.js';
import {
  CRITICAL_V3,
  debianLayers,
  MEDIUM_V3,
  osvRecord,
  pushAlpineImage,
  pushAppImage,
  pushDebianImage,
  pushDebianIndex,
  type DebPackage,
} from '../helpers/scan-images.js';

const fixed = (v: string) => [{ introduced: '0' }, { fixed: v }];

async function* docs(records: unknown[]): AsyncGenerator<OsvDocument> {
  for (const [i, r] of records.entries()) yield { name: `r${i}.json`, bytes: Buffer.from(JSON.stringify(r)) };
}

const DEBIAN: DebPackage[] = [
  { name: 'libssl3', version: '3.0.11-1~deb12u1', source: 'openssl' },
  { name: 'openssl', version: '3.0.11-1~deb12u1' },
  { name: 'curl', version: '7.88.1-10+deb12u12' },
  { name: 'bash', version: '5.2.15-2+b2', source: 'bash (5.2.15-2)' },
  { name: 'old', version: '1.0', status: 'deinstall ok config-files' },
];

describe('ScannerService: images from a real registry, OSV records in PostgreSQL', () => {
  let fresh: FreshDatabase;
  let scanner: ScannerService;
  const reg = { url: `http://${registryHost()}`, host: registryHost() };
  const image = (repository: string, digest: string) => ({ registry: reg.host, repository, digest });

  beforeAll(async () => {
    fresh = await freshDatabase();
    const client = new RegistryClient([registryConfig('local', reg)], { env: {} });
    scanner = new ScannerService({ registry: client, db: fresh.db.dataSource });
    await importOsv(
      fresh.db.dataSource,
      docs([
        osvRecord('DSA-5532-1', 'Debian:12', 'openssl', fixed('3.0.11-1~deb12u2'), { severity: CRITICAL_V3, aliases: ['CVE-2023-5363'] }),
        osvRecord('DSA-OLD-11', 'Debian:11', 'openssl', fixed('9.9'), { severity: CRITICAL_V3 }),
        osvRecord('DEBIAN-CVE-2024-1', 'Debian:12', 'curl', fixed('7.88.1-10+deb12u5')),
        osvRecord('DEBIAN-CVE-2024-2', 'Debian:12', 'bash', [{ introduced: '0' }], {
          affected: [
            {
              package: { ecosystem: 'Debian:12', name: 'bash' },
              ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
              ecosystem_specific: { urgency: 'low' },
            },
          ],
        }),
        osvRecord('CVE-2024-0727', 'Alpine:v3.19', 'openssl', fixed('3.1.4-r5'), { severity: MEDIUM_V3 }),
        osvRecord('GHSA-35jh-r3h4-6jhm', 'npm', 'lodash', fixed('4.17.21'), { database_specific: { severity: 'HIGH' } }),
        osvRecord('GHSA-p6mc-m468-83gw', 'npm', '@babel/traverse', fixed('7.23.2'), { database_specific: { severity: 'CRITICAL' } }),
        osvRecord('PYSEC-2023-74', 'PyPI', 'requests', fixed('2.31.0'), { severity: MEDIUM_V3 }),
      ]),
      { source: 'test' },
    );
  }, 60_000);
  afterAll(async () => {
    await fresh?.drop();
  });

  it('a Debian image: installed dpkg packages, SBOM, and findings by source package with fixed versions and severities', async () => {
    const pushed = await pushDebianImage(reg, 'scan/debian', DEBIAN);
    const result = await scanner.scan(image('scan/debian', pushed.digest));

    expect(result.os).toMatchObject({ id: 'debian', versionId: '12', ecosystem: 'Debian:12' });
    expect(result.packages.map((p) => p.name).sort()).toEqual(['bash', 'curl', 'libssl3', 'openssl']);
    expect(result.findings.map((f) => [f.id, f.package, f.installedVersion, f.fixedVersion, f.severity])).toEqual([
      ['DEBIAN-CVE-2024-2', 'bash', '5.2.15-2+b2', null, 'low'],
      ['DSA-5532-1', 'libssl3', '3.0.11-1~deb12u1', '3.0.11-1~deb12u2', 'critical'],
      ['DSA-5532-1', 'openssl', '3.0.11-1~deb12u1', '3.0.11-1~deb12u2', 'critical'],
    ]);
    expect(result.findings[1]).toMatchObject({
      source: 'builtin',
      aliases: ['CVE-2023-5363'],
      cvssScore: 9.8,
      purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl',
    });
    expect(result.dbImportedAt).toBeInstanceOf(Date);
    expect(result.sbom.metadata.component.version).toBe(pushed.digest);
    expect(result.sbom.components.filter((c) => c.type === 'library')).toHaveLength(4);
    expect(result.platforms).toEqual([expect.objectContaining({ digest: pushed.digest, platform: null })]);
  });

  it('an Alpine image with a zstd layer: apk packages by origin, apk version order', async () => {
    const pushed = await pushAlpineImage(reg, 'scan/alpine', [
      { name: 'libcrypto3', version: '3.1.4-r4', origin: 'openssl' },
      { name: 'libssl3', version: '3.1.4-r5', origin: 'openssl' },
      { name: 'musl', version: '1.2.4_git20230717-r4' },
    ]);
    const result = await scanner.scan(image('scan/alpine', pushed.digest));

    expect(result.os?.ecosystem).toBe('Alpine:v3.19');
    expect(result.findings).toEqual([
      expect.objectContaining({
        id: 'CVE-2024-0727',
        package: 'libcrypto3',
        ecosystem: 'Alpine:v3.19',
        fixedVersion: '3.1.4-r5',
        severity: 'medium',
      }),
    ]);
  });

  it('an application image: npm packages (scoped too) and Python distributions', async () => {
    const pushed = await pushAppImage(
      reg,
      'scan/app',
      [
        { name: 'lodash', version: '4.17.20' },
        { name: '@babel/traverse', version: '7.22.0' },
        { name: 'express', version: '4.19.2' },
      ],
      [{ name: 'Requests', version: '2.28.1' }],
    );
    const result = await scanner.scan(image('scan/app', pushed.digest));

    expect(result.findings.map((f) => [f.id, f.package, f.ecosystem, f.severity])).toEqual([
      ['GHSA-p6mc-m468-83gw', '@babel/traverse', 'npm', 'critical'],
      ['GHSA-35jh-r3h4-6jhm', 'lodash', 'npm', 'high'],
      ['PYSEC-2023-74', 'requests', 'PyPI', 'medium'],
    ]);
    expect(result.sbom.components.map((c) => c.purl).filter(Boolean)).toContain('pkg:pypi/requests@2.28.1');
  });

  it('an index: every platform manifest is scanned; packages of both platforms are found', async () => {
    const pushed = await pushDebianIndex(
      reg,
      'scan/multi',
      [{ name: 'curl', version: '7.88.1-10+deb12u12' }],
      [{ name: 'curl', version: '7.88.1-10+deb12u4' }],
    );
    const result = await scanner.scan(image('scan/multi', pushed.digest));

    expect(result.digest).toBe(pushed.digest);
    expect(result.platforms.map((p) => [p.digest, p.platform])).toEqual([
      [pushed.children[0], 'linux/amd64'],
      [pushed.children[1], 'linux/arm64'],
    ]);
    expect(result.findings).toEqual([
      expect.objectContaining({
        id: 'DEBIAN-CVE-2024-1',
        package: 'curl',
        installedVersion: '7.88.1-10+deb12u4',
        fixedVersion: '7.88.1-10+deb12u5',
      }),
    ]);
  });

  it('a package deleted by a whiteout in a later layer is not reported', async () => {
    const layers = [
      ...(await debianLayers(DEBIAN)),
      await layer([
        { name: 'var/lib/dpkg/.wh.status', content: '' },
        { name: 'var/lib/dpkg/status.d/curl', content: 'Package: curl\nVersion: 7.88.1-10+deb12u4\nArchitecture: amd64\n' },
      ]),
    ];
    const pushed = await pushLayers(reg, 'scan/whiteout', layers);
    const result = await scanner.scan(image('scan/whiteout', pushed.digest));

    expect(result.packages.map((p) => [p.name, p.foundIn])).toEqual([['curl', '/var/lib/dpkg/status.d/curl']]);
    expect(result.findings.map((f) => f.id)).toEqual(['DEBIAN-CVE-2024-1']);
  });

  it('matchPackages re-matches stored packages against a new import', async () => {
    const pushed = await pushDebianImage(reg, 'scan/rematch', [{ name: 'curl', version: '7.88.1-10+deb12u12' }]);
    const first = await scanner.scan(image('scan/rematch', pushed.digest));
    expect(first.findings).toEqual([]);

    const other = await freshDatabase();
    try {
      const rescanner = new ScannerService({
        registry: new RegistryClient([registryConfig('local', reg)], { env: {} }),
        db: other.db.dataSource,
      });
      expect(await rescanner.matchPackages(first.packages)).toEqual({ findings: [], dbImportedAt: null });
      const report = await importOsv(
        other.db.dataSource,
        docs([osvRecord('DSA-NEW', 'Debian:12', 'curl', fixed('7.88.1-10+deb12u13'), { severity: CRITICAL_V3 })]),
        { source: 'new' },
      );
      const again = await rescanner.matchPackages(first.packages);
      expect(again.findings).toMatchObject([{ id: 'DSA-NEW', severity: 'critical', fixedVersion: '7.88.1-10+deb12u13' }]);
      expect(again.dbImportedAt).toEqual(report.importedAt);
      expect(await rescanner.dbStatus()).toMatchObject({ source: 'new', records: 1 });
    } finally {
      await other.drop();
    }
  });

  it('a 10,000-package status file is read and matched', async () => {
    const many = Array.from({ length: 10_000 }, (_, i) => ({ name: `pkg${i}`, version: `1.${i}-1` }));
    const pushed = await pushDebianImage(reg, 'scan/big', [...many, { name: 'curl', version: '7.88.1-10+deb12u4' }]);
    const result = await scanner.scan(image('scan/big', pushed.digest));

    expect(result.packages).toHaveLength(10_001);
    expect(result.findings.map((f) => f.package)).toEqual(['curl']);
  });

  it('a package database too large to read fails the scan instead of hiding its packages', async () => {
    const pushed = await pushDebianImage(
      reg,
      'scan/huge-status',
      Array.from({ length: 50 }, (_, i) => ({ name: `p${i}`, version: '1.0' })),
    );
    const small = new ScannerService({
      registry: new RegistryClient([registryConfig('local', reg)], { env: {} }),
      db: fresh.db.dataSource,
      limits: { maxFileBytes: 1000 },
    });
    const err = await small.scan(image('scan/huge-status', pushed.digest)).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ImageFsError);
    expect((err as Error).message).toMatch(
      /^\/var\/lib\/dpkg\/status cannot be read: larger than limits.image.maxFileBytes \(\d+ bytes, at most 1000 are read\)/,
    );
  });

  it('bad images fail with ImageFsError and the reason: not a tar, truncated gzip, ../ entries', async () => {
    const cases: [string, Awaited<ReturnType<typeof layer>>, RegExp][] = [
      [
        'scan/not-tar',
        rawLayer(Buffer.from('definitely not a tar archive '.repeat(50)), 'application/vnd.oci.image.layer.v1.tar'),
        /not a tar archive/,
      ],
      [
        'scan/truncated',
        await (async () => {
          const l = await layer([{ name: 'var/lib/dpkg/status', content: 'Package: a\n'.repeat(5000) }]);
          return rawLayer(l.bytes.subarray(0, l.bytes.length - 100), l.mediaType);
        })(),
        /gzip stream ends early \(truncated\)/,
      ],
      ['scan/escape', await layer([{ name: '../../../etc/cron.d/evil', content: 'x' }]), /climbs out of the image root/],
    ];
    for (const [repo, bad, reason] of cases) {
      const pushed = await pushLayers(reg, repo, [bad]);
      const err = await scanner.scan(image(repo, pushed.digest)).catch((e: unknown) => e);
      expect(err, repo).toBeInstanceOf(ImageFsError);
      expect((err as Error).message, repo).toMatch(reason);
    }
  });
});
