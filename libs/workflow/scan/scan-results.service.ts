import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { Principal } from '#libs/auth/index.js';
import { canonicalJson, ServiceError, sha256Hex } from '#libs/domain/index.js';
import {
  countBySeverity,
  parseReportFor,
  ReportError,
  waiverCovers,
  type CycloneDxBom,
  type Finding,
  type OsInfo,
  type Package,
  type ParsedAttestation,
  type ParsedReport,
  type ReportFormat,
  type ScanSource,
} from '#libs/scanning/index.js';
import { AuditService } from '../audit.service.js';
import { SCAN_COLUMNS, scanRow, type ScanResultRow } from './scan-rows.js';
import { WaiverService } from './waiver.service.js';

/** Findings per report: more than this is not a report we can judge sensibly. */
export const MAX_REPORT_FINDINGS = 20_000;

export interface NewScanResult {
  digest: string;
  source: ScanSource;
  origin: ScanResultRow['origin'];
  scanner: ScanResultRow['scanner'];
  scannedAt: Date;
  submittedBy: string;
  repository?: string | null;
  findings: Finding[];
  reportDigest: string;
  envelope?: ScanResultRow['envelope'];
  sbom?: CycloneDxBom | null;
  packages?: Package[] | null;
  os?: OsInfo | null;
  dbImportedAt?: Date | null;
}

export interface UploadedScan {
  id: string;
  digest: string;
  source: ScanSource;
  scanner: ScanResultRow['scanner'];
  scannedAt: string;
  receivedAt: string;
  counts: ScanResultRow['counts'];
  findings: number;
  /** False when the same report was uploaded before: nothing new was stored. */
  created: boolean;
}

/** Scan results per image digest: built-in scans, uploaded reports and attached attestations. */
@Injectable()
export class ScanResultsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly waivers: WaiverService,
  ) {}

  /** A report from CI: parsed, checked to be about this digest, stored once (the same report again is a no-op). */
  async upload(who: Principal, digest: string, report: unknown, format: ReportFormat | undefined, now = new Date()): Promise<UploadedScan> {
    let parsed: ParsedReport | ParsedAttestation;
    try {
      parsed = parseReportFor(digest, report, format);
    } catch (err) {
      if (!(err instanceof ReportError)) throw err;
      throw new ServiceError(err.code === 'malformed' ? 'bad_request' : 'unprocessable', `report: ${err.message}`, { reason: err.code });
    }
    if (parsed.findings.length > MAX_REPORT_FINDINGS) {
      throw new ServiceError(
        'payload_too_large',
        `report: ${parsed.findings.length} findings; at most ${MAX_REPORT_FINDINGS} are accepted`,
      );
    }
    const source: ScanSource = parsed.format;
    const input: NewScanResult = {
      digest,
      source,
      origin: 'upload',
      scanner: parsed.scanner,
      // A report dated in the future would stay fresh forever: it counts from when it arrived at the latest.
      scannedAt: parsed.scannedAt && parsed.scannedAt < now ? parsed.scannedAt : now,
      submittedBy: who.id,
      findings: parsed.findings,
      reportDigest: 'sha256:' + sha256Hex(canonicalJson(report)),
      envelope: 'envelope' in parsed ? parsed.envelope : null,
    };
    return this.audit.transaction(async (manager) => {
      const { row, created } = await this.insert(input, manager, now);
      if (created) {
        await this.audit.append(manager, who, {
          action: 'scan.uploaded',
          subject: `image:${digest}`,
          data: {
            scanId: row.id,
            source,
            scanner: row.scanner,
            scannedAt: row.scannedAt.toISOString(),
            counts: row.counts,
            reportDigest: row.reportDigest,
          },
        });
      }
      return {
        id: row.id,
        digest,
        source,
        scanner: row.scanner,
        scannedAt: row.scannedAt.toISOString(),
        receivedAt: row.receivedAt.toISOString(),
        counts: row.counts,
        findings: row.findings.length,
        created,
      };
    });
  }

  /** Stores a result; an upload or attached report already stored (same report bytes) is returned as it is. */
  async insert(
    r: NewScanResult,
    manager: EntityManager | DataSource = this.dataSource,
    now = new Date(),
  ): Promise<{ row: ScanResultRow; created: boolean }> {
    const rows = await manager.query(
      `INSERT INTO scan_results (id, digest, source, origin, scanner, scanned_at, received_at, submitted_by, repository, findings, counts, report_digest, envelope, sbom, packages, os, db_imported_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
       ON CONFLICT (digest, source, report_digest) WHERE origin <> 'scanner' DO NOTHING
       RETURNING ${SCAN_COLUMNS}`,
      [
        randomUUID(),
        r.digest,
        r.source,
        r.origin,
        JSON.stringify(r.scanner),
        r.scannedAt,
        now,
        r.submittedBy,
        r.repository ?? null,
        JSON.stringify(r.findings),
        JSON.stringify(countBySeverity(r.findings)),
        r.reportDigest,
        r.envelope ? JSON.stringify(r.envelope) : null,
        r.sbom ? JSON.stringify(r.sbom) : null,
        r.packages ? JSON.stringify(r.packages) : null,
        r.os ? JSON.stringify(r.os) : null,
        r.dbImportedAt ?? null,
      ],
    );
    if (rows.length > 0) return { row: scanRow(rows[0]), created: true };
    const existing = await manager.query(
      `SELECT ${SCAN_COLUMNS} FROM scan_results WHERE digest = $1 AND source = $2 AND report_digest = $3 AND origin <> 'scanner'`,
      [r.digest, r.source, r.reportDigest],
    );
    return { row: scanRow(existing[0]), created: false };
  }

  /** Results for a digest from these sources scanned at or after `since`, newest first. */
  async fresh(digest: string, sources: readonly ScanSource[], since: Date): Promise<ScanResultRow[]> {
    const rows = await this.dataSource.query(
      `SELECT ${SCAN_COLUMNS} FROM scan_results WHERE digest = $1 AND source = ANY($2::text[]) AND scanned_at >= $3 ORDER BY scanned_at DESC, received_at DESC`,
      [digest, [...sources], since],
    );
    return rows.map(scanRow);
  }

  /** The newest built-in scan of a digest that kept its packages and SBOM. */
  async latestBuiltin(digest: string): Promise<(ScanResultRow & { packages: Package[]; sbom: CycloneDxBom; os: OsInfo | null }) | null> {
    const rows = await this.dataSource.query(
      `SELECT ${SCAN_COLUMNS}, packages, sbom, os FROM scan_results WHERE digest = $1 AND source = 'builtin' AND packages IS NOT NULL ORDER BY scanned_at DESC, received_at DESC LIMIT 1`,
      [digest],
    );
    return rows[0] ? { ...scanRow(rows[0]), packages: rows[0].packages, sbom: rows[0].sbom, os: rows[0].os } : null;
  }

  /** `GET /images/:digest/findings`: each stored result (newest first) with each finding's waiver, if one counts now. */
  async findingsOf(digest: string, now = new Date()) {
    const rows: ScanResultRow[] = (
      await this.dataSource.query(
        `SELECT ${SCAN_COLUMNS} FROM scan_results WHERE digest = $1 ORDER BY scanned_at DESC, received_at DESC LIMIT 200`,
        [digest],
      )
    ).map(scanRow);
    const repoRows: { repository: string; target_repository: string }[] = await this.dataSource.query(
      'SELECT DISTINCT repository, target_repository FROM promotions WHERE digest = $1',
      [digest],
    );
    const target = { digest, repositories: [...new Set(repoRows.flatMap((r) => [r.repository, r.target_repository]))] };
    const waivers = await this.waivers.activeFor(
      rows.flatMap((r) => r.findings.flatMap((f) => [f.id, ...f.aliases])),
      now,
    );
    return {
      digest,
      results: rows.map((r) => ({
        id: r.id,
        source: r.source,
        origin: r.origin,
        scanner: r.scanner,
        scannedAt: r.scannedAt.toISOString(),
        receivedAt: r.receivedAt.toISOString(),
        dbImportedAt: r.dbImportedAt?.toISOString() ?? null,
        counts: r.counts,
        findings: r.findings.map((f) => {
          const w = waivers.find((x) => waiverCovers(x, f, target, now));
          return { ...f, waiver: w ? { id: w.id, expiresAt: w.expiresAt.toISOString(), vexStatus: w.vexStatus } : null };
        }),
      })),
    };
  }
}
