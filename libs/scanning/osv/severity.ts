import cvss from 'ae-cvss-calculator';
import type { Severity } from '../findings.js';

export interface OsvSeverity {
  type: string;
  score: string;
}

const VECTOR_V3 = /^CVSS:3\.[01]\/(?:[A-Z]{1,3}:[A-Z]\/?)+$/;
const VECTOR_V4 = /^CVSS:4\.0\/(?:[A-Z]{1,3}:[A-Z]\/?)+$/;

/**
 * The severity of a record for one package: a CVSS v4 or v3 vector (the package's own before the
 * record's), else a named severity the source gives (GHSA `database_specific.severity`, Debian
 * urgency, Ubuntu priority), else unknown.
 */
export function severityOf(
  record: Record<string, unknown>,
  affected: Record<string, unknown>[],
): { severity: Severity; cvssScore: number | null } {
  const lists = [...affected.map((a) => a.severity), record.severity].filter(Array.isArray) as OsvSeverity[][];
  for (const type of ['CVSS_V4', 'CVSS_V3']) {
    for (const list of lists) {
      for (const s of list) {
        if (s.type !== type) continue;
        const score = cvssScore(s.score);
        if (score !== null) return { severity: fromScore(score), cvssScore: score };
      }
    }
  }
  const named: unknown[] = [];
  for (const a of affected) {
    named.push(field(a.ecosystem_specific, 'severity'), field(a.ecosystem_specific, 'urgency'), field(a.database_specific, 'severity'));
  }
  named.push(field(record.database_specific, 'severity'));
  for (const list of lists) for (const s of list) if (s.type === 'Ubuntu') named.push(s.score);
  for (const n of named) {
    const severity = typeof n === 'string' ? fromName(n) : null;
    if (severity) return { severity, cvssScore: null };
  }
  return { severity: 'unknown', cvssScore: null };
}

/** Base score of a CVSS 3.x or 4.0 vector; null when it is not one. */
export function cvssScore(vector: string): number | null {
  try {
    let scores: { overall: number } | null = null;
    if (VECTOR_V4.test(vector)) scores = new cvss.Cvss4P0(vector).calculateScores();
    else if (VECTOR_V3.test(vector))
      scores = vector.startsWith('CVSS:3.0') ? new cvss.Cvss3P0(vector).calculateScores() : new cvss.Cvss3P1(vector).calculateScores();
    return scores && Number.isFinite(scores.overall) ? scores.overall : null;
  } catch {
    return null;
  }
}

/** CVSS qualitative rating scale; 0.0 ("none") counts as low. */
export function fromScore(score: number): Severity {
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  return 'low';
}

const NAMES: Record<string, Severity> = {
  critical: 'critical',
  high: 'high',
  important: 'high',
  medium: 'medium',
  moderate: 'medium',
  low: 'low',
  negligible: 'low',
  unimportant: 'low',
};

// Debian urgencies carry marks ("low*", "medium**"); "not yet assigned" and "end-of-life" say nothing.
function fromName(name: string): Severity | null {
  return NAMES[name.trim().toLowerCase().replace(/\*+$/, '')] ?? null;
}

function field(obj: unknown, key: string): unknown {
  return typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[key] : undefined;
}
