import { describe, expect, it } from 'vitest';
import { apkPackages } from './apk.js';
import { dpkgPackages } from './dpkg.js';
import { ImageFsError, type WantedEntry } from '#libs/imagefs/index.js';
import { detectPackages, scannerWants } from './index.js';
import { npmInstalledPackage, npmLockPackages } from './npm.js';
import { osInfo } from './os-release.js';
import { pythonPackage } from './python.js';

const debian12 = osInfo(
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
);

describe('os-release', () => {
  it.each([
    ['ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm', 'Debian:12'],
    ['ID=ubuntu\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"', 'Ubuntu:22.04:LTS'],
    ['ID=ubuntu\nVERSION_ID="23.10"\nVERSION="23.10 (Mantic Minotaur)"', 'Ubuntu:23.10'],
    ['ID=ubuntu\nVERSION_ID="24.04"', 'Ubuntu:24.04:LTS'],
    ['ID=alpine\nVERSION_ID=3.19.1', 'Alpine:v3.19'],
    ["ID='alpine'\nVERSION_ID='3.20.0_alpha20240329'", 'Alpine:v3.20'],
    ['ID=fedora\nVERSION_ID=40', null],
  ])('%j → %s', (text, ecosystem) => expect(osInfo(text)?.ecosystem).toBe(ecosystem));

  it('reads codename and pretty name; no ID is no OS', () => {
    expect(debian12).toMatchObject({ id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
    expect(osInfo('# nothing\n')).toBeNull();
  });
});

describe('dpkg status', () => {
  const status = [
    'Package: libssl3',
    'Status: install ok installed',
    'Priority: optional',
    'Architecture: amd64',
    'Source: openssl',
    'Version: 3.0.11-1~deb12u2',
    'Description: Secure Sockets Layer toolkit',
    ' This package is part of the OpenSSL project.',
    '',
    'Package: removed-pkg',
    'Status: deinstall ok config-files',
    'Version: 1.0',
    '',
    'Package: libgcc-s1',
    'Status: install ok installed',
    'Architecture: amd64',
    'Source: gcc-12 (12.2.0-14)',
    'Version: 12.2.0-14+b1',
    '',
    'Package: base-files',
    'Status: install ok installed',
    'Architecture: amd64',
    'Version: 12.4+deb12u5',
    '',
  ].join('\n');

  it('keeps installed packages only, with source package and source version (binNMU)', () => {
    const pkgs = dpkgPackages(status, '/var/lib/dpkg/status', debian12, true);

    expect(pkgs.map((p) => p.name)).toEqual(['libssl3', 'libgcc-s1', 'base-files']);
    expect(pkgs[0]).toMatchObject({
      type: 'deb',
      version: '3.0.11-1~deb12u2',
      ecosystem: 'Debian:12',
      sourceName: 'openssl',
      sourceVersion: '3.0.11-1~deb12u2',
      arch: 'amd64',
      purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl',
    });
    expect(pkgs[1]).toMatchObject({ sourceName: 'gcc-12', sourceVersion: '12.2.0-14', version: '12.2.0-14+b1' });
    expect(pkgs[2].purl).toBe('pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12');
  });

  it('distroless status.d files have no Status field and still count', () => {
    const pkgs = dpkgPackages(
      'Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n',
      '/var/lib/dpkg/status.d/tzdata',
      debian12,
      false,
    );
    expect(pkgs).toMatchObject([{ name: 'tzdata', version: '2024a-0+deb12u1' }]);
  });

  it('reads a 10,000-package status file', () => {
    const big = Array.from(
      { length: 10_000 },
      (_, i) => `Package: pkg${i}\nStatus: install ok installed\nVersion: 1.${i}-1\nArchitecture: amd64\n`,
    ).join('\n');
    const pkgs = dpkgPackages(big, '/var/lib/dpkg/status', debian12, true);
    expect(pkgs).toHaveLength(10_000);
    expect(pkgs[9999]).toMatchObject({ name: 'pkg9999', version: '1.9999-1' });
  });
});

describe('apk installed database', () => {
  it('reads P/V/A/o per stanza', () => {
    const text =
      'C:Q1abc=\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\nT:Crypto library\n\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n';
    const os = osInfo('ID=alpine\nVERSION_ID=3.19.1\n');
    const pkgs = apkPackages(text, '/lib/apk/db/installed', os);

    expect(pkgs).toMatchObject([
      {
        name: 'libcrypto3',
        version: '3.1.4-r5',
        sourceName: 'openssl',
        ecosystem: 'Alpine:v3.19',
        purl: 'pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1&upstream=openssl',
      },
      { name: 'musl', version: '1.2.4_git20230717-r4', sourceName: 'musl' },
    ]);
  });
});

describe('npm', () => {
  it('reads package-lock v3 packages: nested and scoped, without the root, dev dependencies and links', () => {
    const lock = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'app', version: '1.0.0' },
        'node_modules/lodash': { version: '4.17.20' },
        'node_modules/@babel/core': { version: '7.23.0' },
        'node_modules/a/node_modules/lodash': { version: '3.10.1' },
        'node_modules/jest': { version: '29.0.0', dev: true },
        'node_modules/local': { resolved: 'packages/local', link: true },
      },
    });
    const pkgs = npmLockPackages(lock, '/app/package-lock.json');
    expect(pkgs.map((p) => p.purl)).toEqual(['pkg:npm/lodash@4.17.20', 'pkg:npm/%40babel/core@7.23.0', 'pkg:npm/lodash@3.10.1']);
  });

  it('reads an installed package.json; a broken one is not a package', () => {
    expect(npmInstalledPackage('{"name":"@scope/x","version":"1.2.3"}', '/app/node_modules/@scope/x/package.json')).toMatchObject({
      name: '@scope/x',
      purl: 'pkg:npm/%40scope/x@1.2.3',
    });
    expect(npmInstalledPackage('{not json', '/x/node_modules/y/package.json')).toBeNull();
    expect(npmInstalledPackage('{"name":"y"}', '/x/node_modules/y/package.json')).toBeNull();
  });
});

describe('python', () => {
  it('reads Name and Version from METADATA, normalised as PEP 503', () => {
    const p = pythonPackage(
      'Metadata-Version: 2.1\nName: Flask_Cors\nVersion: 3.0.9\nSummary: x\n\nName: body-is-not-headers\n',
      '/usr/lib/python3/dist-packages/Flask_Cors-3.0.9.dist-info/METADATA',
    );
    expect(p).toMatchObject({ name: 'flask-cors', version: '3.0.9', ecosystem: 'PyPI', purl: 'pkg:pypi/flask-cors@3.0.9' });
  });
});

describe('files the scanner reads', () => {
  it.each([
    ['/etc/os-release', true],
    ['/usr/lib/os-release', true],
    ['/var/lib/dpkg/status', true],
    ['/var/lib/dpkg/status-old', false],
    ['/var/lib/dpkg/status.d/tzdata', true],
    ['/lib/apk/db/installed', true],
    ['/app/node_modules/lodash/package.json', true],
    ['/app/node_modules/@babel/core/package.json', true],
    ['/app/node_modules/lodash/fp/package.json', false],
    ['/app/package-lock.json', true],
    ['/package-lock.json', true],
    ['/app/node_modules/.package-lock.json', true],
    ['/app/node_modules/some-lib/package-lock.json', false],
    ['/usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA', true],
    ['/usr/bin/bash', false],
  ])('%s → %s', (path, wanted) => expect(scannerWants(path)).toBe(wanted));
});

describe('detectPackages over the wanted files', () => {
  const file = (path: string, text: string | null, extra: Partial<WantedEntry> = {}): WantedEntry => ({
    path,
    realPath: path,
    size: text?.length ?? 0,
    content: text === null ? null : Buffer.from(text),
    problem: null,
    ...extra,
  });
  const METADATA = 'Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\n';

  it('a file reached by two paths (/lib → /usr/lib) is one package, found where it really is', () => {
    const real = '/usr/lib/python3/dist-packages/requests-2.30.0.dist-info/METADATA';
    const files = [
      file('/lib/python3/dist-packages/requests-2.30.0.dist-info/METADATA', METADATA, { realPath: real }),
      file(real, METADATA),
    ];
    expect(detectPackages({ files: () => files }).packages).toMatchObject([{ purl: 'pkg:pypi/requests@2.30.0', foundIn: real }]);
  });

  it('a wanted file with a problem, or without content, fails detection naming the path and where it leads', () => {
    const broken = [
      file('/etc/os-release', 'ID=debian\n'),
      file('/var/lib/dpkg/status', null, { realPath: null, problem: 'a symlink to "/x", which does not resolve inside the image' }),
    ];
    expect(() => detectPackages({ files: () => broken })).toThrow(
      new ImageFsError(
        'unreadable_file',
        '/var/lib/dpkg/status cannot be read: a symlink to "/x", which does not resolve inside the image; failing closed rather than skipping it',
      ),
    );
    const empty = [file('/lib/apk/db/installed', null, { realPath: '/opt/db' })];
    expect(() => detectPackages({ files: () => empty })).toThrow('/lib/apk/db/installed (/opt/db) cannot be read: no content');
  });
});
