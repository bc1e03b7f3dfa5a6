import { parseOsvRecord, type VulnEntry } from '../osv/record.js';
import { VulnDbImportError } from './errors.js';
import type { OsvDocument } from './sources.js';
import type { ImportProblemKind, SqlDatabase, SqlRunner, VulnDbStatus } from './store.js';

export interface ImportProblem {
  /** The file (or `archive.zip:entry.json`) the record came from. */
  document: string;
  id: string | null;
  kind: ImportProblemKind;
  reason: string;
}

/** What an import did: the import record (as `dbStatus()` reads it back) and the problems met. */
export interface ImportReport extends VulnDbStatus {
  /** The first problems met, for the operator (at most `maxProblems`). */
  problems: ImportProblem[];
}

export interface ImportOptions {
  /** Named in the import record: the PATH given. */
  source: string;
  /** Refuse the whole import when any record is malformed (default: skip them and report). */
  strict?: boolean;
  batchSize?: number;
  maxProblems?: number;
}

/**
 * Replaces the vulnerability database with the records of `documents`, atomically: one
 * transaction deletes the previous rows, writes the new ones in batches and records the import,
 * so a scan sees the old database or the new one, never a mix. Malformed records are skipped and
 * reported (or, with `strict`, fail the import); an import with no valid record at all is refused
 * rather than leaving an empty database behind.
 */
export async function importOsv(db: SqlDatabase, documents: AsyncIterable<OsvDocument>, options: ImportOptions): Promise<ImportReport> {
  const batchSize = options.batchSize ?? 2000;
  const maxProblems = options.maxProblems ?? 10;
  const report: ImportReport = {
    importedAt: new Date(0),
    source: options.source,
    records: 0,
    entries: 0,
    skipped: 0,
    withdrawn: 0,
    problems: [],
    skippedBy: { json: 0, nul: 0, too_large: 0, schema: 0 },
  };
  const problem = (p: ImportProblem): void => {
    report.skipped++;
    report.skippedBy[p.kind]++;
    if (report.problems.length < maxProblems) report.problems.push(p);
    if (options.strict) throw new VulnDbImportError(`malformed record ${p.id ?? '(no id)'} in ${p.document}: ${p.reason}`);
  };

  return db.transaction(async (tx) => {
    await tx.query('DELETE FROM vuln_records');
    let batch = new Map<string, VulnEntry>();
    const flush = async (): Promise<void> => {
      if (batch.size === 0) return;
      await insertBatch(tx, [...batch.values()]);
      batch = new Map();
    };
    for await (const doc of documents) {
      if (doc.tooLarge) {
        problem({
          document: doc.name,
          id: null,
          kind: 'too_large',
          reason: `${doc.tooLarge.size === undefined ? 'more' : `${doc.tooLarge.size} bytes, more`} than the ${doc.tooLarge.limit}-byte record limit`,
        });
        continue;
      }
      let values: unknown[];
      try {
        values = recordsOf(JSON.parse(Buffer.from(doc.bytes).toString('utf8')));
      } catch (err) {
        problem({
          document: doc.name,
          id: null,
          kind: 'json',
          reason: err instanceof SyntaxError ? `not JSON: ${err.message}` : `not readable JSON: ${(err as Error).message}`,
        });
        continue;
      }
      for (const value of values) {
        const parsed = parseOsvRecord(value);
        if (!parsed.ok) {
          problem({ document: doc.name, id: parsed.id, kind: 'schema', reason: parsed.reason });
          continue;
        }
        // PostgreSQL stores neither in text or jsonb: one such record would abort the whole import.
        const bad = badText(value);
        if (bad) {
          problem({ document: doc.name, id: parsed.id, kind: 'nul', reason: bad });
          continue;
        }
        if (parsed.withdrawn) {
          report.withdrawn++;
          continue;
        }
        report.records++;
        for (const entry of parsed.entries) {
          // The same record twice (two files, or two archives): the later `modified` wins, as OSV says.
          const key = `${entry.ecosystem}\u0000${entry.package}\u0000${entry.id}`;
          const seen = batch.get(key);
          if (!seen || Date.parse(entry.modified) > Date.parse(seen.modified)) batch.set(key, entry);
        }
        if (batch.size >= batchSize) await flush();
      }
    }
    await flush();
    if (report.records === 0) {
      throw new VulnDbImportError(
        `no valid OSV records in ${options.source}${report.skipped > 0 ? ` (${report.skipped} malformed)` : ''}; the database was left as it was`,
      );
    }
    const counted = (await tx.query('SELECT count(*)::int AS n FROM vuln_records')) as { n: number }[];
    report.entries = counted[0].n;
    const inserted = (await tx.query(
      'INSERT INTO vuln_imports (source, records, entries, skipped, skipped_by, withdrawn) VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING imported_at',
      [options.source, report.records, report.entries, report.skipped, JSON.stringify(report.skippedBy), report.withdrawn],
    )) as { imported_at: Date | string }[];
    report.importedAt = new Date(inserted[0].imported_at);
    return report;
  });
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Where a record holds text PostgreSQL refuses (a NUL, an unpaired UTF-16 surrogate), or null. Walked without recursion. */
function badText(value: unknown): string | null {
  const stack: { value: unknown; path: string }[] = [{ value, path: '' }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return `${path || 'the record'} contains a NUL character`;
      if (LONE_SURROGATE.test(v)) return `${path || 'the record'} contains an unpaired UTF-16 surrogate`;
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push({ value: item, path: `${path}[${i}]` }));
    } else if (v !== null && typeof v === 'object') {
      for (const [key, item] of Object.entries(v)) {
        if (key.includes('\u0000') || LONE_SURROGATE.test(key))
          return `a key in ${path || 'the record'} contains a NUL character or an unpaired surrogate`;
        stack.push({ value: item, path: path ? `${path}.${key}` : key });
      }
    }
  }
  return null;
}

/** A document holds one record, a list of them, or an OSV API answer `{ "vulns": [...] }`. */
function recordsOf(json: unknown): unknown[] {
  if (Array.isArray(json)) return json;
  if (json && typeof json === 'object' && !('id' in json) && Array.isArray((json as { vulns?: unknown }).vulns))
    return (json as { vulns: unknown[] }).vulns;
  return [json];
}

async function insertBatch(tx: SqlRunner, entries: VulnEntry[]): Promise<void> {
  await tx.query(
    `INSERT INTO vuln_records (id, modified, ecosystem, package, affected, severity, cvss_score, aliases, summary)
     SELECT u.id, u.modified, u.ecosystem, u.package, u.affected::jsonb, u.severity, u.cvss,
            ARRAY(SELECT jsonb_array_elements_text(u.aliases::jsonb)), u.summary
       FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::real[], $8::text[], $9::text[])
         AS u(id, modified, ecosystem, package, affected, severity, cvss, aliases, summary)
     ON CONFLICT (ecosystem, package, id) DO UPDATE
        SET modified = excluded.modified, affected = excluded.affected, severity = excluded.severity,
            cvss_score = excluded.cvss_score, aliases = excluded.aliases, summary = excluded.summary
      WHERE excluded.modified > vuln_records.modified`,
    [
      entries.map((e) => e.id),
      entries.map((e) => e.modified),
      entries.map((e) => e.ecosystem),
      entries.map((e) => e.package),
      entries.map((e) => JSON.stringify(e.affected)),
      entries.map((e) => e.severity),
      entries.map((e) => e.cvssScore),
      entries.map((e) => JSON.stringify(e.aliases)),
      entries.map((e) => e.summary),
    ],
  );
}
