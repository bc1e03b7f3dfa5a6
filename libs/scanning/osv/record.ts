import { normalizePypiName } from '../detect/python.js';
import type { Severity } from '../findings.js';
import { severityOf, type OsvSeverity } from './severity.js';

export type RangeEvent = { introduced: string } | { fixed: string } | { last_affected: string } | { limit: string };

export interface AffectedRange {
  type: 'ECOSYSTEM' | 'SEMVER';
  events: RangeEvent[];
}

/** What one OSV `affected[]` entry says about one package, as stored and matched. */
export interface AffectedSpec {
  ranges: AffectedRange[];
  versions: string[];
}

/** One vulnerability record narrowed to one (ecosystem, package): a row of the database. */
export interface VulnEntry {
  id: string;
  modified: string;
  ecosystem: string;
  package: string;
  affected: AffectedSpec[];
  severity: Severity;
  cvssScore: number | null;
  aliases: string[];
  summary: string | null;
}

export type ParsedRecord =
  { ok: true; id: string; withdrawn: boolean; entries: VulnEntry[] } | { ok: false; id: string | null; reason: string };

const RANGE_TYPES = new Set(['ECOSYSTEM', 'SEMVER', 'GIT']);
const EVENT_KEYS = new Set(['introduced', 'fixed', 'last_affected', 'limit']);

/** The name as OSV records and our lookups key it: PyPI names are PEP 503 normalised. */
export function packageKey(ecosystem: string, name: string): string {
  return ecosystem === 'PyPI' ? normalizePypiName(name) : name;
}

/**
 * Checks an OSV record against the parts of the schema matching relies on and splits it per
 * affected package. A record that breaks them is refused with the reason; GIT ranges (commit
 * hashes, not versions) are dropped.
 */
export function parseOsvRecord(value: unknown): ParsedRecord {
  if (!isObject(value)) return { ok: false, id: null, reason: 'not a JSON object' };
  const id = typeof value.id === 'string' && value.id.trim() !== '' ? value.id : null;
  if (!id) return { ok: false, id: null, reason: 'no id' };
  const fail = (reason: string): ParsedRecord => ({ ok: false, id, reason });
  if (typeof value.modified !== 'string' || Number.isNaN(Date.parse(value.modified))) return fail('modified is missing or not a timestamp');
  if (value.withdrawn !== undefined && typeof value.withdrawn !== 'string') return fail('withdrawn is not a timestamp');
  const aliases = value.aliases ?? [];
  if (!isStringArray(aliases)) return fail('aliases is not a list of strings');
  // Distribution advisories name the CVEs they fix in `upstream` (or, from older converters,
  // `related`) rather than `aliases`; a waiver of the CVE must still find the DSA.
  const upstream = [value.upstream ?? [], value.related ?? []];
  if (!upstream.every(isStringArray)) return fail('upstream or related is not a list of strings');
  if (value.summary !== undefined && typeof value.summary !== 'string') return fail('summary is not a string');
  const affected = value.affected ?? [];
  if (!Array.isArray(affected)) return fail('affected is not a list');
  if (value.severity !== undefined && !isSeverityList(value.severity)) return fail('severity is not a list of {type, score}');

  const byPackage = new Map<string, { ecosystem: string; name: string; specs: AffectedSpec[]; raw: Record<string, unknown>[] }>();
  for (const [i, a] of affected.entries()) {
    if (!isObject(a) || !isObject(a.package)) return fail(`affected[${i}].package is missing`);
    const { ecosystem, name } = a.package;
    if (typeof ecosystem !== 'string' || ecosystem === '' || typeof name !== 'string' || name === '') {
      return fail(`affected[${i}].package needs an ecosystem and a name`);
    }
    if (a.severity !== undefined && !isSeverityList(a.severity)) return fail(`affected[${i}].severity is not a list of {type, score}`);
    const versions = a.versions ?? [];
    if (!isStringArray(versions)) return fail(`affected[${i}].versions is not a list of strings`);
    const rangesIn = a.ranges ?? [];
    if (!Array.isArray(rangesIn)) return fail(`affected[${i}].ranges is not a list`);
    const ranges: AffectedRange[] = [];
    for (const [j, r] of rangesIn.entries()) {
      const where = `affected[${i}].ranges[${j}]`;
      if (!isObject(r) || typeof r.type !== 'string' || !RANGE_TYPES.has(r.type))
        return fail(`${where}.type must be ECOSYSTEM, SEMVER or GIT`);
      if (!Array.isArray(r.events) || r.events.length === 0) return fail(`${where}.events is not a non-empty list`);
      const events: RangeEvent[] = [];
      for (const e of r.events) {
        const keys = isObject(e) ? Object.keys(e) : [];
        if (keys.length !== 1 || !EVENT_KEYS.has(keys[0]) || typeof (e as Record<string, unknown>)[keys[0]] !== 'string') {
          return fail(`${where}.events has an event that is not one of introduced, fixed, last_affected, limit with a version`);
        }
        events.push(e as RangeEvent);
      }
      if (!events.some((e) => 'introduced' in e)) return fail(`${where} has no introduced event`);
      if (r.type !== 'GIT') ranges.push({ type: r.type as 'ECOSYSTEM' | 'SEMVER', events });
    }
    const key = `${ecosystem}\u0000${packageKey(ecosystem, name)}`;
    const slot = byPackage.get(key) ?? { ecosystem, name: packageKey(ecosystem, name), specs: [], raw: [] };
    slot.specs.push({ ranges, versions });
    slot.raw.push(a);
    byPackage.set(key, slot);
  }

  const entries: VulnEntry[] = [];
  for (const slot of byPackage.values()) {
    if (slot.specs.every((s) => s.ranges.length === 0 && s.versions.length === 0)) continue;
    const { severity, cvssScore } = severityOf(value, slot.raw);
    entries.push({
      id,
      modified: value.modified,
      ecosystem: slot.ecosystem,
      package: slot.name,
      affected: slot.specs,
      severity,
      cvssScore,
      aliases: [...new Set([...aliases, ...upstream.flat()])].filter((a) => a !== id).sort(),
      summary: typeof value.summary === 'string' ? value.summary.slice(0, 500) : null,
    });
  }
  return { ok: true, id, withdrawn: typeof value.withdrawn === 'string', entries };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function isSeverityList(v: unknown): v is OsvSeverity[] {
  return Array.isArray(v) && v.every((s) => isObject(s) && typeof s.type === 'string' && typeof s.score === 'string');
}
