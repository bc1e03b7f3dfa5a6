import { atLeast, countBySeverity, SEVERITIES, type Finding, type Severity } from './findings.js';

/** OpenVEX statuses, and the justifications OpenVEX allows for `not_affected`. */
export const VEX_STATUSES = ['not_affected', 'affected', 'fixed', 'under_investigation'] as const;
export type VexStatus = (typeof VEX_STATUSES)[number];
export const VEX_JUSTIFICATIONS = [
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
] as const;
export type VexJustification = (typeof VEX_JUSTIFICATIONS)[number];

export type WaiverScope = { digest: string } | { repository: string } | { all: true };

/** A waiver as the gate sees it: one vulnerability, a scope, until it expires (revoked ones are not passed in). */
export interface WaiverRule {
  id: string;
  vulnerabilityId: string;
  scope: WaiverScope;
  justification: string;
  expiresAt: Date;
  vexStatus: VexStatus | null;
}

/** The image a gate evaluates: its digest and the repositories it is in (source and target). */
export interface WaiverTarget {
  digest: string;
  repositories: readonly string[];
}

export function waiverCovers(waiver: WaiverRule, finding: Pick<Finding, 'id' | 'aliases'>, target: WaiverTarget, now: Date): boolean {
  if (waiver.expiresAt.getTime() <= now.getTime()) return false;
  if (waiver.vulnerabilityId !== finding.id && !finding.aliases.includes(waiver.vulnerabilityId)) return false;
  const scope = waiver.scope;
  if ('all' in scope) return true;
  if ('digest' in scope) return scope.digest === target.digest;
  return target.repositories.includes(scope.repository);
}

export interface ScanThreshold {
  failOn: Exclude<Severity, 'unknown'>;
  ignoreUnfixed: boolean;
}

export interface FindingsVerdict {
  /** Over every finding of every source (one per vulnerability, package and version, worst severity). */
  counts: Record<Severity, number>;
  /** At or above the threshold, not ignored and not waived: these fail the gate. */
  blocking: Finding[];
  /** Findings at or above the threshold that a waiver covered, with the waiver. */
  waived: { finding: Finding; waiverId: string }[];
  /** At or above the threshold but with no fixed version, passed over under `ignoreUnfixed`. */
  ignoredUnfixed: number;
}

/** Applies the threshold, ignoreUnfixed and waivers to findings; what remains at or above failOn blocks. */
export function judgeFindings(
  findings: readonly Finding[],
  threshold: ScanThreshold,
  waivers: readonly WaiverRule[],
  target: WaiverTarget,
  now: Date,
): FindingsVerdict {
  const blocking: Finding[] = [];
  const waived: FindingsVerdict['waived'] = [];
  let ignoredUnfixed = 0;
  for (const f of findings) {
    if (!atLeast(threshold.failOn, f.severity)) continue;
    if (threshold.ignoreUnfixed && !f.fixedVersion) {
      ignoredUnfixed++;
      continue;
    }
    const waiver = waivers.find((w) => waiverCovers(w, f, target, now));
    if (waiver) waived.push({ finding: f, waiverId: waiver.id });
    else blocking.push(f);
  }
  return { counts: countBySeverity(unique(findings)), blocking, waived, ignoredUnfixed };
}

/** One finding per vulnerability, package and installed version across sources, keeping the worst severity. */
export function unique(findings: readonly Finding[]): Finding[] {
  const byKey = new Map<string, Finding>();
  for (const f of findings) {
    const key = `${f.id}\u0000${f.package}\u0000${f.installedVersion}`;
    const prev = byKey.get(key);
    if (!prev || SEVERITIES.indexOf(f.severity) > SEVERITIES.indexOf(prev.severity)) byKey.set(key, f);
  }
  return [...byKey.values()];
}
