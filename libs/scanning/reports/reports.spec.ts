import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pae } from '#libs/signing/index.js';
import { detectReportFormat, parseReportFor, ReportError, VULN_PREDICATE_TYPE } from './index.js';

const DIGEST = 'sha256:4c2a0b1e6f3d5a7b9c8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e';
const OTHER = 'sha256:' + 'ab'.repeat(32);
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

function envelopeOf(statement: unknown) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const payload = Buffer.from(JSON.stringify(statement));
  const sig = sign('sha256', pae('application/vnd.in-toto+json', payload), privateKey).toString('base64');
  return { payloadType: 'application/vnd.in-toto+json', payload: payload.toString('base64'), signatures: [{ keyid: '', sig }] };
}

function vulnStatement(result: unknown, subjectDigest = DIGEST) {
  return {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: VULN_PREDICATE_TYPE,
    subject: [{ name: 'registry.example.com/dev/web', digest: { sha256: subjectDigest.slice(7) } }],
    predicate: {
      invocation: { parameters: null, uri: '', event_id: '', 'builder.id': '' },
      scanner: { uri: 'pkg:github/aquasecurity/trivy@0.57.0', version: '0.57.0', db: { uri: '', version: '' }, result },
      metadata: { scanStartedOn: '2026-11-24T09:12:40Z', scanFinishedOn: '2026-11-24T09:12:44Z' },
    },
  };
}

function refused(run: () => unknown): ReportError {
  try {
    run();
  } catch (err) {
    if (err instanceof ReportError) return err;
    throw err;
  }
  throw new Error('the report was accepted');
}

describe('Trivy reports', () => {
  it('normalise each vulnerability with package, versions, severity, CVSS and ecosystem', () => {
    const report = parseReportFor(DIGEST, fixture('trivy-debian.json'));
    expect(report.format).toBe('trivy');
    expect(report.scannedAt?.toISOString()).toBe('2026-11-24T09:12:44.512Z');
    expect(report.findings.map((f) => [f.id, f.package, f.ecosystem, f.severity, f.fixedVersion])).toEqual([
      ['CVE-2011-3374', 'apt', 'Debian:12', 'low', null],
      ['CVE-2021-23337', 'lodash', 'npm', 'high', '4.17.21'],
      ['CVE-2023-50495', 'libtinfo6', 'Debian:12', 'high', null],
      ['CVE-2024-5535', 'libssl3', 'Debian:12', 'critical', '3.0.14-1~deb12u1'],
    ]);
    const ssl = report.findings.find((f) => f.id === 'CVE-2024-5535')!;
    expect(ssl).toMatchObject({
      installedVersion: '3.0.13-1~deb12u1',
      cvssScore: 9.1,
      source: 'trivy',
      purl: expect.stringContaining('pkg:deb/debian/libssl3@'),
    });
  });

  it('are refused when they name another digest, or none', () => {
    expect(refused(() => parseReportFor(OTHER, fixture('trivy-debian.json'))).message).toContain(`not ${OTHER}`);
    const anonymous = { ...fixture('trivy-debian.json'), ArtifactName: 'web.tar', Metadata: { OS: { Family: 'debian', Name: '12' } } };
    expect(refused(() => parseReportFor(DIGEST, anonymous)).message).toContain('names no image digest');
  });

  it('are refused when malformed, naming the field', () => {
    const r = fixture('trivy-debian.json');
    delete r.Results[0].Vulnerabilities[1].InstalledVersion;
    expect(refused(() => parseReportFor(DIGEST, r)).message).toBe(
      'Results[0].Vulnerabilities[1].InstalledVersion must be a non-empty string',
    );
    expect(refused(() => parseReportFor(DIGEST, { ...fixture('trivy-debian.json'), SchemaVersion: 1 })).message).toContain(
      'SchemaVersion 1',
    );
  });
});

describe('Grype reports', () => {
  it('normalise matches: fix state, related ids as aliases, Negligible as low', () => {
    const report = parseReportFor(DIGEST, fixture('grype-debian.json'));
    expect(report.format).toBe('grype');
    expect(report.scanner).toEqual({ name: 'grype', version: '0.84.0', dbBuiltAt: '2026-11-24T01:31:23Z' });
    const byId = Object.fromEntries(report.findings.map((f) => [f.id, f]));
    expect(byId['CVE-2024-5535']).toMatchObject({
      package: 'libssl3',
      ecosystem: 'Debian:12',
      severity: 'critical',
      fixedVersion: '3.0.14-1~deb12u1',
      cvssScore: 9.1,
      source: 'grype',
    });
    expect(byId['CVE-2023-50495']).toMatchObject({ severity: 'low', fixedVersion: null });
    expect(byId['GHSA-35jh-r3h4-6jhm']).toMatchObject({ ecosystem: 'npm', aliases: ['CVE-2021-23337'], fixedVersion: '4.17.21' });
  });

  it('are refused for another digest and when matches are not objects', () => {
    expect(refused(() => parseReportFor(OTHER, fixture('grype-debian.json'))).code).toBe('wrong_digest');
    expect(refused(() => parseReportFor(DIGEST, { ...fixture('grype-debian.json'), matches: [42] })).message).toBe(
      'matches[0] is not an object',
    );
  });
});

describe('cosign vulnerability attestations', () => {
  it('read the wrapped Trivy report, with the scan times and the subject digest', () => {
    const report = parseReportFor(DIGEST, envelopeOf(vulnStatement(fixture('trivy-debian.json'))), 'attestation');
    expect(report.format).toBe('attestation');
    expect(report.scannedAt?.toISOString()).toBe('2026-11-24T09:12:44.000Z');
    expect(report.findings.every((f) => f.source === 'attestation')).toBe(true);
    expect(report.findings.map((f) => f.id)).toContain('CVE-2024-5535');
  });

  it('are refused for another subject, an unsigned statement or another predicate', () => {
    expect(refused(() => parseReportFor(DIGEST, envelopeOf(vulnStatement(fixture('grype-debian.json'), OTHER)))).code).toBe('wrong_digest');
    expect(refused(() => parseReportFor(DIGEST, vulnStatement(fixture('trivy-debian.json')))).code).toBe('unsigned');
    const slsa = { ...vulnStatement({}), predicateType: 'https://slsa.dev/provenance/v1' };
    expect(refused(() => parseReportFor(DIGEST, envelopeOf(slsa))).message).toContain(
      'not https://cosign.sigstore.dev/attestation/vuln/v1',
    );
  });

  it('detect formats by their shape', () => {
    expect(detectReportFormat(fixture('trivy-debian.json'))).toBe('trivy');
    expect(detectReportFormat(fixture('grype-debian.json'))).toBe('grype');
    expect(detectReportFormat(envelopeOf({}))).toBe('attestation');
    expect(detectReportFormat({ hello: 1 })).toBeNull();
    expect(refused(() => parseReportFor(DIGEST, 'text')).message).toContain('is not a Trivy JSON report');
  });
});
