import { describe, expect, it } from 'vitest';
import type { Package } from '../packages.js';
import { affects, matchEntries } from './match.js';
import { parseOsvRecord, type VulnEntry } from './record.js';
import { cvssScore } from './severity.js';

function entries(record: unknown): VulnEntry[] {
  const parsed = parseOsvRecord(record);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.entries;
}

const deb = (name: string, version: string, source = name, sourceVersion = version): Package => ({
  type: 'deb',
  name,
  version,
  ecosystem: 'Debian:12',
  purl: `pkg:deb/debian/${name}@${version}`,
  sourceName: source,
  sourceVersion,
  arch: 'amd64',
  foundIn: '/var/lib/dpkg/status',
});

const npm = (name: string, version: string): Package => ({
  type: 'npm',
  name,
  version,
  ecosystem: 'npm',
  purl: `pkg:npm/${name}@${version}`,
  sourceName: null,
  sourceVersion: null,
  arch: null,
  foundIn: '/app/package-lock.json',
});

describe('OSV range evaluation', () => {
  const range = (events: object[], type = 'ECOSYSTEM', ecosystem = 'Debian:12') =>
    entries({
      id: 'X-1',
      modified: '2024-01-01T00:00:00Z',
      affected: [{ package: { ecosystem, name: 'p' }, ranges: [{ type, events }] }],
    })[0];

  it.each([
    // introduced 0, fixed: everything below the fix
    [[{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }], '3.0.11-1~deb12u1', true, '3.0.11-1~deb12u2'],
    [[{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }], '3.0.11-1~deb12u2', false, null],
    [[{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }], '3.0.13-1~deb12u1', false, null],
    // no fix yet: every version
    [[{ introduced: '0' }], '99:1.0', true, null],
    // introduced later
    [[{ introduced: '2.0-1' }, { fixed: '2.5-1' }], '1.9-1', false, null],
    [[{ introduced: '2.0-1' }, { fixed: '2.5-1' }], '2.0-1', true, '2.5-1'],
    // last_affected is inclusive
    [[{ introduced: '1.0' }, { last_affected: '1.4' }], '1.4', true, null],
    [[{ introduced: '1.0' }, { last_affected: '1.4' }], '1.4.1', false, null],
    // two windows, events out of order in the record
    [[{ fixed: '1.5' }, { introduced: '2.0' }, { introduced: '1.0' }, { fixed: '2.5' }], '1.7', false, null],
    [[{ fixed: '1.5' }, { introduced: '2.0' }, { introduced: '1.0' }, { fixed: '2.5' }], '2.1', true, '2.5'],
    [[{ fixed: '1.5' }, { introduced: '2.0' }, { introduced: '1.0' }, { fixed: '2.5' }], '1.2', true, '1.5'],
    // the epoch counts
    [[{ introduced: '0' }, { fixed: '1:1.0-1' }], '2.0-1', true, '1:1.0-1'],
  ])('dpkg %j at %s → affected %s, fixed %s', (events, version, affected, fixed) => {
    expect(affects(range(events), version)).toEqual({ affected, fixedVersion: fixed });
  });

  it('SEMVER ranges use semver order whatever the ecosystem; prereleases sort before the release', () => {
    const e = range([{ introduced: '4.0.0' }, { fixed: '4.17.21' }], 'SEMVER', 'npm');
    expect(affects(e, '4.17.20')).toEqual({ affected: true, fixedVersion: '4.17.21' });
    expect(affects(e, '4.17.21-rc.1')).toEqual({ affected: true, fixedVersion: '4.17.21' });
    expect(affects(e, '4.17.21')).toEqual({ affected: false, fixedVersion: null });
    expect(affects(e, '4.9.0')).toEqual({ affected: true, fixedVersion: '4.17.21' });
  });

  it('apk ranges use apk order: -r revisions and _p suffixes', () => {
    const e = range([{ introduced: '0' }, { fixed: '3.1.4-r5' }], 'ECOSYSTEM', 'Alpine:v3.19');
    expect(affects(e, '3.1.4-r4').affected).toBe(true);
    expect(affects(e, '3.1.4-r5').affected).toBe(false);
    expect(affects(e, '3.1.4_p1-r0').affected).toBe(false);
  });

  it('PyPI ranges use PEP 440 order; explicit versions lists match too', () => {
    const e = entries({
      id: 'PYSEC-1',
      modified: '2024-01-01T00:00:00Z',
      affected: [
        {
          package: { ecosystem: 'PyPI', name: 'Requests' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '2.3.0' }, { fixed: '2.31.0' }] }],
          versions: ['1.0.0'],
        },
      ],
    })[0];
    expect(e.package).toBe('requests');
    expect(affects(e, '2.31.0rc1')).toEqual({ affected: true, fixedVersion: '2.31.0' });
    expect(affects(e, '2.31.0').affected).toBe(false);
    expect(affects(e, '1.0').affected).toBe(true);
    expect(affects(e, '1.1').affected).toBe(false);
  });
});

describe('matching packages to records', () => {
  const openssl = {
    id: 'DSA-5532-1',
    modified: '2024-01-01T00:00:00Z',
    aliases: ['CVE-2023-5363'],
    summary: 'openssl - security update',
    affected: [
      {
        package: { ecosystem: 'Debian:12', name: 'openssl' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }] }],
      },
      {
        package: { ecosystem: 'Debian:11', name: 'openssl' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.1.1w-0+deb11u1' }] }],
      },
    ],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
  };

  it('binary packages match by source package within their release only, one finding per binary', () => {
    const pkgs = [
      deb('libssl3', '3.0.11-1~deb12u1', 'openssl'),
      deb('openssl', '3.0.11-1~deb12u1'),
      deb('libssl1.1', '1.1.1n-0+deb11u5', 'openssl1.1'),
    ];
    const found = matchEntries(pkgs, entries(openssl));

    expect(found).toEqual([
      expect.objectContaining({
        id: 'DSA-5532-1',
        package: 'libssl3',
        installedVersion: '3.0.11-1~deb12u1',
        fixedVersion: '3.0.11-1~deb12u2',
        severity: 'critical',
        cvssScore: 9.8,
        source: 'builtin',
        aliases: ['CVE-2023-5363'],
        ecosystem: 'Debian:12',
      }),
      expect.objectContaining({ id: 'DSA-5532-1', package: 'openssl' }),
    ]);
  });

  it('a Debian 11 image is matched against Debian:11 records, not Debian:12 ones', () => {
    const old = { ...deb('openssl', '1.1.1n-0+deb11u5'), ecosystem: 'Debian:11' };
    expect(matchEntries([old], entries(openssl))).toMatchObject([{ fixedVersion: '1.1.1w-0+deb11u1' }]);
  });

  it('the source version decides, not the binNMU binary version', () => {
    const record = {
      id: 'DEBIAN-CVE-1',
      modified: '2024-01-01T00:00:00Z',
      affected: [
        {
          package: { ecosystem: 'Debian:12', name: 'gcc-12' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '12.2.0-14+b1' }] }],
        },
      ],
    };
    // binary 12.2.0-14+b1 would look fixed; its source 12.2.0-14 is not.
    expect(matchEntries([deb('libgcc-s1', '12.2.0-14+b1', 'gcc-12', '12.2.0-14')], entries(record))).toHaveLength(1);
  });

  it('npm packages match by name and semver', () => {
    const record = {
      id: 'GHSA-35jh-r3h4-6jhm',
      modified: '2024-01-01T00:00:00Z',
      database_specific: { severity: 'HIGH' },
      affected: [
        {
          package: { ecosystem: 'npm', name: 'lodash' },
          ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }],
        },
      ],
    };
    expect(matchEntries([npm('lodash', '4.17.20'), npm('lodash', '4.17.21')], entries(record))).toMatchObject([
      { installedVersion: '4.17.20', severity: 'high', cvssScore: null },
    ]);
  });
});

describe('records as OSV publishes them', () => {
  it('a Debian DSA: CVEs from related/upstream become aliases; versions lists and ranges both match', () => {
    const dsa = {
      id: 'DSA-5532-1',
      summary: 'openssl - security update',
      schema_version: '1.6.0',
      published: '2023-10-24T00:00:00Z',
      modified: '2023-11-08T06:06:44Z',
      related: ['CVE-2023-5363'],
      upstream: ['CVE-2023-5678'],
      affected: [
        {
          package: { ecosystem: 'Debian:12', name: 'openssl', purl: 'pkg:deb/debian/openssl?arch=source' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }] }],
          versions: ['3.0.9-1', '3.0.11-1~deb12u1'],
          database_specific: { source: 'https://storage.googleapis.com/debian-osv/dsa-osv/DSA-5532-1.json' },
        },
      ],
      references: [{ type: 'ADVISORY', url: 'https://www.debian.org/security/2023/dsa-5532' }],
    };
    const [entry] = entries(dsa);
    expect(entry.aliases).toEqual(['CVE-2023-5363', 'CVE-2023-5678']);
    expect(affects(entry, '3.0.9-1')).toEqual({ affected: true, fixedVersion: '3.0.11-1~deb12u2' });
    expect(affects(entry, '3.0.11-1~deb12u2').affected).toBe(false);
  });

  it('a GHSA record: several ranges and packages; the CVSS v3 vector wins over the named severity', () => {
    const ghsa = {
      schema_version: '1.4.0',
      id: 'GHSA-p6mc-m468-83gw',
      modified: '2023-11-07T05:06:05Z',
      published: '2023-10-16T13:55:36Z',
      aliases: ['CVE-2023-45133'],
      summary: 'Babel vulnerable to arbitrary code execution when compiling specifically crafted malicious code',
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H' }],
      affected: [
        {
          package: { ecosystem: 'npm', name: '@babel/traverse' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '7.23.2' }] }],
        },
        {
          package: { ecosystem: 'npm', name: '@babel/traverse' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '8.0.0-alpha.0' }, { fixed: '8.0.0-alpha.4' }] }],
        },
        {
          package: { ecosystem: 'npm', name: 'babel-traverse' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
          database_specific: { last_known_affected_version_range: '<= 6.26.0' },
        },
      ],
      database_specific: { cwe_ids: ['CWE-184', 'CWE-697'], severity: 'CRITICAL', github_reviewed: true },
    };
    const list = entries(ghsa);
    expect(list.map((e) => e.package)).toEqual(['@babel/traverse', 'babel-traverse']);
    // The vector decides over GitHub's own CRITICAL label.
    expect(list[0]).toMatchObject({ severity: 'high', cvssScore: 8.6 });
    expect(affects(list[0], '8.0.0-alpha.2')).toEqual({ affected: true, fixedVersion: '8.0.0-alpha.4' });
    expect(affects(list[0], '7.23.2').affected).toBe(false);
    expect(affects(list[1], '6.26.0')).toEqual({ affected: true, fixedVersion: null });
  });
});

describe('severity', () => {
  const sev = (extra: object) =>
    entries({
      id: 'S',
      modified: '2024-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'npm', name: 'x' }, versions: ['1.0.0'] }],
      ...extra,
    })[0];

  it('CVSS v3 and v4 vectors give scores and ratings; v4 is preferred', () => {
    expect(cvssScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toBe(9.8);
    expect(cvssScore('CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N')).toBe(7.5);
    expect(cvssScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N')).toBe(9.3);
    expect(cvssScore('not a vector')).toBeNull();
    expect(
      sev({
        severity: [
          { type: 'CVSS_V3', score: 'CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N' },
          { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' },
        ],
      }),
    ).toMatchObject({ severity: 'critical', cvssScore: 9.3 });
    expect(sev({ severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N' }] })).toMatchObject({
      severity: 'low',
    });
  });

  it('falls back to the source severity: GHSA MODERATE, Debian urgency, Ubuntu priority; else unknown', () => {
    expect(sev({ database_specific: { severity: 'MODERATE' } }).severity).toBe('medium');
    const debian = entries({
      id: 'D',
      modified: '2024-01-01T00:00:00Z',
      affected: [
        {
          package: { ecosystem: 'Debian:12', name: 'x' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
          ecosystem_specific: { urgency: 'high**' },
        },
      ],
    })[0];
    expect(debian.severity).toBe('high');
    expect(sev({ severity: [{ type: 'Ubuntu', score: 'negligible' }] }).severity).toBe('low');
    expect(sev({ database_specific: { severity: 'not yet assigned' } }).severity).toBe('unknown');
    expect(sev({}).severity).toBe('unknown');
  });
});

describe('malformed OSV records', () => {
  it.each([
    [null, 'not a JSON object'],
    [{ modified: '2024-01-01T00:00:00Z' }, 'no id'],
    [{ id: 'A' }, 'modified is missing'],
    [{ id: 'A', modified: 'yesterday' }, 'modified is missing or not a timestamp'],
    [{ id: 'A', modified: '2024-01-01T00:00:00Z', affected: {} }, 'affected is not a list'],
    [{ id: 'A', modified: '2024-01-01T00:00:00Z', affected: [{}] }, 'affected[0].package is missing'],
    [{ id: 'A', modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm' } }] }, 'needs an ecosystem and a name'],
    [
      {
        id: 'A',
        modified: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'RANGE', events: [] }] }],
      },
      'type must be ECOSYSTEM, SEMVER or GIT',
    ],
    [
      {
        id: 'A',
        modified: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events: [{ fixed: '1' }] }] }],
      },
      'no introduced event',
    ],
    [
      {
        id: 'A',
        modified: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events: [{ introduced: 0 }] }] }],
      },
      'not one of introduced',
    ],
    [
      { id: 'A', modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'x' }, versions: [1] }] },
      'versions is not a list of strings',
    ],
    [{ id: 'A', modified: '2024-01-01T00:00:00Z', aliases: 'CVE-1' }, 'aliases is not a list'],
    [{ id: 'A', modified: '2024-01-01T00:00:00Z', severity: [{ type: 'CVSS_V3' }] }, 'severity is not a list'],
  ])('%j is refused: %s', (record, reason) => {
    const parsed = parseOsvRecord(record);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).toContain(reason);
  });

  it('GIT ranges are dropped; a package with nothing left to match adds no entry', () => {
    const parsed = parseOsvRecord({
      id: 'OSV-1',
      modified: '2024-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'GIT', repo: 'r', events: [{ introduced: 'abc' }] }] }],
    });
    expect(parsed).toMatchObject({ ok: true, entries: [] });
  });
});
