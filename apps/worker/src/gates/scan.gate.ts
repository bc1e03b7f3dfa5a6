import { Injectable } from '@nestjs/common';
import { AppConfig, scanGateSchema, type ScanGateConfig } from '#libs/config/index.js';
import { canonicalJson, parseDuration, sha256Hex, SYSTEM_ACTORS } from '#libs/domain/index.js';
import { isImageFsError } from '#libs/imagefs/index.js';
import { isRegistryError, RegistryClient } from '#libs/registry/index.js';
import { judgeFindings, ScannerService, type Finding, type ScanSource } from '#libs/scanning/index.js';
import type { TrustedKey } from '#libs/signing/index.js';
import {
  ScanResultsService,
  WaiverService,
  type Gate,
  type GateContext,
  type GateVerdict,
  type ScanResultRow,
} from '#libs/workflow/index.js';
import { readAttachedVulnAttestations } from './attached-attestations.js';
import { envelopeSigner, loadAttestationKeys } from './scan-trust.js';

/** Blocking and waived findings listed one by one in the evidence; the counts are always complete. */
const MAX_LISTED = 200;

interface SourceUsed {
  source: ScanSource;
  origin: ScanResultRow['origin'];
  scanId: string;
  scanner: ScanResultRow['scanner'];
  scannedAt: string;
  findings: number;
  signedBy?: string;
}

/**
 * The `scan` gate: the image's vulnerabilities, from the sources the environment trusts (the
 * built-in scanner, uploaded Trivy/Grype reports, signed vulnerability attestations) no older than
 * `maxAge`, judged against `failOn`, `ignoreUnfixed` and the waivers in force. No fresh trusted
 * source, or a stale database, fails closed; an image that cannot be read is an `error`.
 */
@Injectable()
export class ScanGate implements Gate {
  readonly type = 'scan' as const;
  private readonly attestationKeys: Map<string, TrustedKey[]>;

  constructor(
    config: AppConfig,
    private readonly registry: RegistryClient,
    private readonly scanner: ScannerService,
    private readonly results: ScanResultsService,
    private readonly waivers: WaiverService,
  ) {
    this.attestationKeys = loadAttestationKeys(config);
  }

  async evaluate(context: GateContext): Promise<GateVerdict> {
    const parsed = scanGateSchema.safeParse(context.options);
    if (!parsed.success) {
      return {
        status: 'error',
        summary: `gates.scan of ${context.environment.name} is invalid: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
        evidence: { configured: false },
      };
    }
    const options = parsed.data;
    const { promotion } = context;
    const now = new Date();
    const since = new Date(now.getTime() - parseDuration(options.maxAge));
    const { image } = context;
    const base = {
      failOn: options.failOn,
      ignoreUnfixed: options.ignoreUnfixed,
      maxAge: options.maxAge,
      trusted: options.sources,
      image: `${promotion.repository}@${promotion.digest}`,
    };

    const used: SourceUsed[] = [];
    const missing: string[] = [];
    const findings: Finding[] = [];
    let dbImportedAt: Date | null = null;
    let sbom: { scanId: string; packages: number; os: string | null } | null = null;

    if (options.sources.includes('builtin')) {
      let scan;
      try {
        scan = await this.scanner.scan(image, context.signal);
      } catch (err) {
        // Registry trouble that may pass: retry the job. A malformed image or a refusal is final.
        if (isRegistryError(err) && err.retryable) throw err;
        if (isImageFsError(err) || isRegistryError(err)) {
          const message = (err as Error).message;
          const code = (err as { code?: string }).code ?? null;
          return {
            status: 'error',
            summary: `the built-in scanner cannot read ${base.image}: ${message}`,
            evidence: { ...base, source: 'builtin', error: message, code },
          };
        }
        throw err;
      }
      dbImportedAt = scan.dbImportedAt;
      const { row } = await this.results.insert({
        digest: promotion.digest,
        source: 'builtin',
        origin: 'scanner',
        scanner: { name: 'image-promoter', version: null, dbBuiltAt: scan.dbImportedAt?.toISOString() ?? null },
        scannedAt: now,
        submittedBy: SYSTEM_ACTORS.worker,
        repository: promotion.repository,
        findings: scan.findings,
        reportDigest: 'sha256:' + scan.digest.slice(7),
        sbom: scan.sbom,
        packages: scan.packages,
        os: scan.os,
        dbImportedAt: scan.dbImportedAt,
      });
      sbom = { scanId: row.id, packages: scan.packages.length, os: scan.os?.prettyName ?? scan.os?.id ?? null };
      if (!dbImportedAt) {
        return {
          status: 'failed',
          summary:
            'no vulnerability database has been imported (promoctl vulndb import); the built-in scan cannot judge the image: failing closed',
          evidence: { ...base, dbImportedAt: null, sbom },
        };
      }
      if (dbImportedAt < since) {
        return {
          status: 'failed',
          summary: `the vulnerability database was imported at ${dbImportedAt.toISOString()}, longer ago than maxAge ${options.maxAge}: import a fresh one`,
          evidence: { ...base, dbImportedAt: dbImportedAt.toISOString(), sbom },
        };
      }
      used.push(sourceUsed(row));
      findings.push(...scan.findings);
    }

    for (const source of ['trivy', 'grype'] as const) {
      if (!options.sources.includes(source)) continue;
      const [latest] = await this.results.fresh(promotion.digest, [source], since);
      if (!latest) missing.push(`no ${source} report scanned since ${since.toISOString()}`);
      else {
        used.push(sourceUsed(latest));
        findings.push(...latest.findings);
      }
    }

    if (options.sources.includes('attestation')) {
      const keys = this.attestationKeys.get(context.environment.name) ?? [];
      const attached = await readAttachedVulnAttestations(this.registry, this.results, image, keys, now, context.signal);
      missing.push(...attached.problems);
      const candidates: { row: ScanResultRow; signer: TrustedKey }[] = [];
      for (const row of await this.results.fresh(promotion.digest, ['attestation'], since)) {
        const signer = row.envelope ? envelopeSigner(row.envelope, keys) : null;
        if (signer) candidates.push({ row, signer });
        else if (row.origin === 'upload')
          missing.push(`uploaded attestation ${row.id} is not signed by a key in gates.scan.attestationKeys`);
      }
      const newest = candidates[0];
      if (!newest) missing.push(`no vulnerability attestation signed by a trusted key and scanned since ${since.toISOString()}`);
      else {
        used.push({ ...sourceUsed(newest.row), signedBy: newest.signer.source });
        findings.push(...newest.row.findings);
      }
    }

    if (used.length === 0) {
      return {
        status: 'failed',
        summary: `no trusted scan source (${options.sources.join(', ')}) has a result newer than ${options.maxAge}: failing closed`,
        evidence: { ...base, sources: [], missing, dbImportedAt: dbImportedAt?.toISOString() ?? null },
      };
    }

    const waivers = await this.waivers.activeFor(
      findings.flatMap((f) => [f.id, ...f.aliases]),
      now,
    );
    const target = { digest: promotion.digest, repositories: [promotion.repository, promotion.targetRepository] };
    const verdict = judgeFindings(findings, options, waivers, target, now);
    const waiverById = new Map(waivers.map((w) => [w.id, w]));
    const evidence = {
      ...base,
      sources: used,
      missing: missing.slice(0, MAX_LISTED),
      dbImportedAt: dbImportedAt?.toISOString() ?? null,
      sbom,
      counts: verdict.counts,
      blockingCount: verdict.blocking.length,
      blocking: verdict.blocking.slice(0, MAX_LISTED).map(blockingEntry),
      waivedCount: verdict.waived.length,
      waived: verdict.waived.slice(0, MAX_LISTED).map(({ finding, waiverId }) => {
        const w = waiverById.get(waiverId)!;
        return {
          waiverId,
          vulnerabilityId: w.vulnerabilityId,
          scope: w.scope,
          expiresAt: w.expiresAt.toISOString(),
          vexStatus: w.vexStatus,
          justification: w.justification,
          finding: blockingEntry(finding),
        };
      }),
      ignoredUnfixed: verdict.ignoredUnfixed,
    };
    // Scan ids and times change every round; the findings, the waivers applied and the database do not.
    const basis = {
      image: base.image,
      failOn: options.failOn,
      ignoreUnfixed: options.ignoreUnfixed,
      trusted: options.sources,
      sources: used.map((u) => ({
        source: u.source,
        scanner: { name: u.scanner.name, version: u.scanner.version, dbBuiltAt: u.scanner.dbBuiltAt },
        signedBy: u.signedBy ?? null,
      })),
      database: dbImportedAt?.toISOString() ?? null,
      findings: findingsDigest(findings),
      blocking: sortedKeys(verdict.blocking.map(findingKey)),
      waived: sortedKeys(verdict.waived.map(({ finding, waiverId }) => `${waiverId} ${findingKey(finding)}`)),
      ignoredUnfixed: verdict.ignoredUnfixed,
    };
    return { status: verdict.blocking.length > 0 ? 'failed' : 'passed', summary: summarise(options, verdict, used), evidence, basis };
  }
}

function findingKey(f: Finding): string {
  return canonicalJson({
    id: f.id,
    package: f.package,
    ecosystem: f.ecosystem,
    installedVersion: f.installedVersion,
    fixedVersion: f.fixedVersion,
    severity: f.severity,
    source: f.source,
  });
}

function sortedKeys(keys: string[]): string[] {
  return [...new Set(keys)].sort();
}

/** Every finding of every source, in no particular order and once each: a new one changes it, a rescan of the same does not. */
function findingsDigest(findings: readonly Finding[]): string {
  return 'sha256:' + sha256Hex(sortedKeys(findings.map(findingKey)).join('\n'));
}

function sourceUsed(row: ScanResultRow): SourceUsed {
  return {
    source: row.source,
    origin: row.origin,
    scanId: row.id,
    scanner: row.scanner,
    scannedAt: row.scannedAt.toISOString(),
    findings: row.findings.length,
  };
}

function blockingEntry(f: Finding) {
  return {
    id: f.id,
    package: f.package,
    installedVersion: f.installedVersion,
    fixedVersion: f.fixedVersion,
    severity: f.severity,
    source: f.source,
  };
}

function summarise(options: ScanGateConfig, verdict: ReturnType<typeof judgeFindings>, used: SourceUsed[]): string {
  const from = `sources: ${used.map((u) => u.source).join(', ')}`;
  if (verdict.blocking.length === 0) {
    const notes = [
      verdict.waived.length ? `${verdict.waived.length} waived` : '',
      verdict.ignoredUnfixed ? `${verdict.ignoredUnfixed} unfixed ignored` : '',
    ].filter(Boolean);
    return `no finding at or above ${options.failOn} remains${notes.length ? ` (${notes.join(', ')})` : ''}; ${from}`;
  }
  const first = verdict.blocking.slice(0, 3).map((f) => `${f.id} in ${f.package} ${f.installedVersion} (${f.severity}, ${f.source})`);
  const more = verdict.blocking.length > 3 ? ` and ${verdict.blocking.length - 3} more` : '';
  return `${verdict.blocking.length} finding(s) at or above ${options.failOn}: ${first.join('; ')}${more}; ${from}`;
}
