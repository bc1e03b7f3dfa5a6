import { layer, pushIndexOf, pushLayers, type BuiltLayer, type Compression } from './layers.js';
import type { RawRegistry } from './images.js';

// Images with real package databases (dpkg, apk, npm, Python) for scanner and scan-gate tests.

export interface DebPackage {
  name: string;
  version: string;
  source?: string;
  arch?: string;
  status?: string;
}

export function dpkgStatus(packages: DebPackage[]): string {
  return packages
    .map((p) =>
      [
        `Package: ${p.name}`,
        `Status: ${p.status ?? 'install ok installed'}`,
        'Priority: optional',
        `Architecture: ${p.arch ?? 'amd64'}`,
        ...(p.source ? [`Source: ${p.source}`] : []),
        `Version: ${p.version}`,
        `Description: ${p.name} for tests`,
        ' A longer description on a continuation line.',
        '',
      ].join('\n'),
    )
    .join('\n');
}

export const DEBIAN_12_OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';

/** A Debian 12 image: base layer with os-release (via the usual /etc → /usr/lib symlink) and the dpkg database. */
export async function debianLayers(packages: DebPackage[], compression: Compression = 'gzip'): Promise<BuiltLayer[]> {
  return [
    await layer(
      [
        { name: 'usr/lib/os-release', content: DEBIAN_12_OS_RELEASE },
        { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
        { name: 'usr/bin/dash', content: 'ELF', mode: 0o755 },
        { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
        { name: 'usr/bin/sh', type: 'symlink', linkname: 'dash' },
        { name: 'var/lib/dpkg/status', content: dpkgStatus(packages) },
      ],
      compression,
    ),
  ];
}

export async function pushDebianImage(
  reg: RawRegistry,
  repo: string,
  packages: DebPackage[],
  options: { tag?: string; compression?: Compression } = {},
) {
  return pushLayers(reg, repo, await debianLayers(packages, options.compression), { tag: options.tag });
}

export interface ApkPackage {
  name: string;
  version: string;
  origin?: string;
}

export async function pushAlpineImage(
  reg: RawRegistry,
  repo: string,
  packages: ApkPackage[],
  options: { tag?: string; compression?: Compression } = {},
) {
  const installed = packages
    .map((p) => `C:Q1test=\nP:${p.name}\nV:${p.version}\nA:x86_64\no:${p.origin ?? p.name}\nT:${p.name}\n`)
    .join('\n');
  const base = await layer(
    [
      { name: 'etc/os-release', content: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n' },
      { name: 'lib/apk/db/installed', content: installed },
      { name: 'bin/busybox', content: 'ELF' },
      { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
    ],
    options.compression ?? 'zstd',
  );
  return pushLayers(reg, repo, [base], { tag: options.tag });
}

/** An application image: npm packages installed under /app/node_modules and Python distributions. */
export async function pushAppImage(
  reg: RawRegistry,
  repo: string,
  npm: { name: string; version: string }[],
  python: { name: string; version: string }[],
  options: { tag?: string } = {},
) {
  const files = [
    { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
    { name: 'app/package.json', content: JSON.stringify({ name: 'app', version: '1.0.0' }) },
    ...npm.map((p) => ({ name: `app/node_modules/${p.name}/package.json`, content: JSON.stringify({ name: p.name, version: p.version }) })),
    ...python.map((p) => ({
      name: `usr/lib/python3/dist-packages/${p.name.replace(/-/g, '_')}-${p.version}.dist-info/METADATA`,
      content: `Metadata-Version: 2.1\nName: ${p.name}\nVersion: ${p.version}\n`,
    })),
  ];
  return pushLayers(reg, repo, [await layer(files)], { tag: options.tag });
}

/** A two-platform index (amd64, arm64) of Debian images. */
export async function pushDebianIndex(reg: RawRegistry, repo: string, amd64: DebPackage[], arm64: DebPackage[], tag?: string) {
  const a = await pushLayers(reg, repo, await debianLayers(amd64), { architecture: 'amd64' });
  const b = await pushLayers(reg, repo, await debianLayers(arm64.map((p) => ({ ...p, arch: 'arm64' }))), { architecture: 'arm64' });
  const digest = await pushIndexOf(
    reg,
    repo,
    [
      { ...a, architecture: 'amd64' },
      { ...b, architecture: 'arm64' },
    ],
    tag,
  );
  return { digest, children: [a.digest, b.digest] };
}

/** An OSV record for one package with one ECOSYSTEM range. */
export function osvRecord(
  id: string,
  ecosystem: string,
  name: string,
  events: object[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    schema_version: '1.6.0',
    id,
    modified: '2024-03-01T00:00:00Z',
    published: '2024-02-01T00:00:00Z',
    summary: `${name} test vulnerability`,
    affected: [{ package: { ecosystem, name }, ranges: [{ type: ecosystem === 'npm' ? 'SEMVER' : 'ECOSYSTEM', events }] }],
    ...extra,
  };
}

export const CRITICAL_V3 = [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }];
export const MEDIUM_V3 = [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N' }];
