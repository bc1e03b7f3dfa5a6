import type { DataSource, EntityManager } from 'typeorm';
import type { CycloneDxBom, Finding, ScanSource, Severity } from '#libs/scanning/index.js';

/** A stored scan result as the gate and the API use it. */
export interface ScanResultRow {
  id: string;
  digest: string;
  source: ScanSource;
  /** `scanner`: the built-in scanner ran; `upload`: POSTed by CI; `attached`: read from the image's `.att`. */
  origin: 'scanner' | 'upload' | 'attached';
  scanner: { name: string; version: string | null; dbBuiltAt: string | null; rematchOf?: string };
  scannedAt: Date;
  receivedAt: Date;
  submittedBy: string;
  repository: string | null;
  findings: Finding[];
  counts: Record<Severity, number>;
  reportDigest: string;
  envelope: { payloadType: string; payload: string; signatures: { keyid: string; sig: string }[] } | null;
  dbImportedAt: Date | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a pg row
export function scanRow(r: any): ScanResultRow {
  return {
    id: r.id,
    digest: r.digest,
    source: r.source,
    origin: r.origin,
    scanner: r.scanner,
    scannedAt: new Date(r.scanned_at),
    receivedAt: new Date(r.received_at),
    submittedBy: r.submitted_by,
    repository: r.repository,
    findings: r.findings,
    counts: r.counts,
    reportDigest: r.report_digest,
    envelope: r.envelope,
    dbImportedAt: r.db_imported_at ? new Date(r.db_imported_at) : null,
  };
}

/** Columns read for a result (not the SBOM and packages: those are read only when needed). */
export const SCAN_COLUMNS =
  'id, digest, source, origin, scanner, scanned_at, received_at, submitted_by, repository, findings, counts, report_digest, envelope, db_imported_at';

/**
 * The SBOM the built-in scanner kept with its latest result for a digest, or null. The promote step
 * attests it; the scan watcher attests it for promotions that went without.
 */
export async function latestBuiltinSbom(db: DataSource | EntityManager, digest: string): Promise<CycloneDxBom | null> {
  const [row] = await db.query(
    `SELECT sbom FROM scan_results WHERE digest = $1 AND source = 'builtin' AND sbom IS NOT NULL ORDER BY scanned_at DESC LIMIT 1`,
    [digest],
  );
  return (row?.sbom as CycloneDxBom | undefined) ?? null;
}
