import type { VulnEntry } from '../osv/record.js';

/** What the scanner needs of a database: TypeORM's DataSource (and EntityManager) fit as they are. */
export interface SqlRunner {
  query(sql: string, parameters?: unknown[]): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface SqlDatabase extends SqlRunner {
  transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T>;
}

export interface VulnDbStatus {
  importedAt: Date;
  source: string;
  /** Valid, not withdrawn records imported. */
  records: number;
  /** Rows written: one per (record, affected package). */
  entries: number;
  /** Malformed records (or documents) left out. */
  skipped: number;
  /** `skipped` by kind: not JSON, NUL or unpaired surrogate, over the size bound, not OSV. */
  skippedBy: Record<ImportProblemKind, number>;
  withdrawn: number;
}

export type ImportProblemKind = 'json' | 'nul' | 'too_large' | 'schema';

export async function vulnDbStatus(db: SqlRunner): Promise<VulnDbStatus | null> {
  const rows = (await db.query(
    'SELECT imported_at, source, records, entries, skipped, skipped_by, withdrawn FROM vuln_imports ORDER BY id DESC LIMIT 1',
  )) as {
    imported_at: Date | string;
    source: string;
    records: number;
    entries: number;
    skipped: number;
    skipped_by: Partial<Record<ImportProblemKind, number>> | string;
    withdrawn: number;
  }[];
  const r = rows[0];
  if (!r) return null;
  const by = typeof r.skipped_by === 'string' ? (JSON.parse(r.skipped_by) as Partial<Record<ImportProblemKind, number>>) : r.skipped_by;
  const skippedBy = { json: by.json ?? 0, nul: by.nul ?? 0, too_large: by.too_large ?? 0, schema: by.schema ?? 0 };
  return {
    importedAt: new Date(r.imported_at),
    source: r.source,
    records: r.records,
    entries: r.entries,
    skipped: r.skipped,
    skippedBy,
    withdrawn: r.withdrawn,
  };
}

export interface LookupResult {
  importedAt: Date | null;
  entries: VulnEntry[];
}

/**
 * The entries for the given (ecosystem, package) keys and the date of the import they belong to,
 * read in one statement: one snapshot, so an import committing meanwhile is seen whole or not at all.
 */
export async function lookupEntries(db: SqlRunner, keys: readonly { ecosystem: string; package: string }[]): Promise<LookupResult> {
  const unique = [...new Map(keys.map((k) => [`${k.ecosystem}\u0000${k.package}`, k])).values()];
  const rows = (await db.query(
    `SELECT (SELECT imported_at FROM vuln_imports ORDER BY id DESC LIMIT 1) AS imported_at,
            COALESCE((SELECT json_agg(json_build_object(
                        'id', r.id, 'modified', r.modified, 'ecosystem', r.ecosystem, 'package', r.package,
                        'affected', r.affected, 'severity', r.severity, 'cvssScore', r.cvss_score,
                        'aliases', r.aliases, 'summary', r.summary))
                      FROM vuln_records r
                      JOIN unnest($1::text[], $2::text[]) AS k(ecosystem, package)
                        ON r.ecosystem = k.ecosystem AND r.package = k.package), '[]'::json) AS entries`,
    [unique.map((k) => k.ecosystem), unique.map((k) => k.package)],
  )) as { imported_at: Date | string | null; entries: VulnEntry[] | string }[];
  const row = rows[0];
  const entries = typeof row.entries === 'string' ? (JSON.parse(row.entries) as VulnEntry[]) : row.entries;
  return { importedAt: row.imported_at === null ? null : new Date(row.imported_at), entries };
}
