import { describe, expect, it } from 'vitest';
import type { Finding } from './findings.js';
import { judgeFindings, waiverCovers, type WaiverRule } from './waivers.js';

const NOW = new Date('2026-11-24T12:00:00Z');
const LATER = new Date('2026-12-01T00:00:00Z');
const DIGEST = 'sha256:' + '1'.repeat(64);
const target = { digest: DIGEST, repositories: ['reg.example/dev/web', 'reg.example/prod/web'] };

const finding = (over: Partial<Finding>): Finding => ({
  id: 'CVE-2024-0001',
  aliases: [],
  package: 'openssl',
  ecosystem: 'Debian:12',
  purl: null,
  installedVersion: '3.0.11-1',
  fixedVersion: '3.0.11-2',
  severity: 'critical',
  cvssScore: 9.8,
  source: 'builtin',
  title: null,
  ...over,
});
const waiver = (over: Partial<WaiverRule>): WaiverRule => ({
  id: 'w1',
  vulnerabilityId: 'CVE-2024-0001',
  scope: { all: true },
  justification: 'j',
  expiresAt: LATER,
  vexStatus: null,
  ...over,
});

describe('waivers', () => {
  it('cover a finding by id or alias, within their scope, until they expire', () => {
    const f = finding({ id: 'DSA-1', aliases: ['CVE-2024-0001'] });
    expect(waiverCovers(waiver({}), f, target, NOW)).toBe(true);
    expect(waiverCovers(waiver({ vulnerabilityId: 'CVE-2024-9999' }), f, target, NOW)).toBe(false);
    expect(waiverCovers(waiver({ scope: { digest: DIGEST } }), f, target, NOW)).toBe(true);
    expect(waiverCovers(waiver({ scope: { digest: 'sha256:' + '2'.repeat(64) } }), f, target, NOW)).toBe(false);
    expect(waiverCovers(waiver({ scope: { repository: 'reg.example/prod/web' } }), f, target, NOW)).toBe(true);
    expect(waiverCovers(waiver({ scope: { repository: 'reg.example/dev/api' } }), f, target, NOW)).toBe(false);
    expect(waiverCovers(waiver({ expiresAt: NOW }), f, target, NOW)).toBe(false);
  });
});

describe('judging findings', () => {
  const findings = [
    finding({ id: 'CVE-A', severity: 'critical' }),
    finding({ id: 'CVE-B', severity: 'high', fixedVersion: null }),
    finding({ id: 'CVE-C', severity: 'medium' }),
    finding({ id: 'CVE-D', severity: 'high', package: 'curl' }),
    // The same vulnerability reported by a second source counts once, at its worst severity.
    finding({ id: 'CVE-A', severity: 'high', source: 'trivy' }),
  ];

  it('blocks at or above failOn; counts every finding once by severity', () => {
    const v = judgeFindings(findings, { failOn: 'high', ignoreUnfixed: false }, [], target, NOW);
    expect(v.blocking.map((f) => `${f.id}/${f.source}`)).toEqual(['CVE-A/builtin', 'CVE-B/builtin', 'CVE-D/builtin', 'CVE-A/trivy']);
    expect(v.counts).toEqual({ unknown: 0, low: 0, medium: 1, high: 2, critical: 1 });
    expect(judgeFindings(findings, { failOn: 'critical', ignoreUnfixed: false }, [], target, NOW).blocking.map((f) => f.id)).toEqual([
      'CVE-A',
    ]);
  });

  it('passes over unfixed findings under ignoreUnfixed, and waived ones, saying which waiver', () => {
    const v = judgeFindings(
      findings,
      { failOn: 'high', ignoreUnfixed: true },
      [waiver({ id: 'w-d', vulnerabilityId: 'CVE-D' })],
      target,
      NOW,
    );
    expect(v.blocking.map((f) => f.id)).toEqual(['CVE-A', 'CVE-A']);
    expect(v.ignoredUnfixed).toBe(1);
    expect(v.waived).toEqual([{ finding: expect.objectContaining({ id: 'CVE-D' }), waiverId: 'w-d' }]);
  });

  it('an expired waiver blocks again', () => {
    const v = judgeFindings(
      findings,
      { failOn: 'critical', ignoreUnfixed: false },
      [waiver({ vulnerabilityId: 'CVE-A', expiresAt: new Date(NOW.getTime() - 1) })],
      target,
      NOW,
    );
    expect(v.blocking).toHaveLength(1);
    expect(v.waived).toEqual([]);
  });
});
