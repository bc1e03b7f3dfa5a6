import { canonicalJson, sha256Hex } from '#libs/domain/index.js';

export type Severity = 'deny' | 'warn';

/** A JSON value a rule's parameters may hold (numbers become CEL ints when integral). */
export type ParamValue = string | number | boolean | null | ParamValue[] | { [key: string]: ParamValue };

/**
 * One rule as it is in force for an environment: a built-in expanded to its expression, or a
 * custom rule as written. This is the "policy text" whose digest the evidence records.
 */
export interface PolicyRule {
  name: string;
  severity: Severity;
  /** CEL; true means the image passes. */
  expression: string;
  /** Shown when the rule fails; `{{ cel }}` placeholders are filled from the facts. */
  message: string;
  /** What the expression sees as `params` (a built-in's options). */
  params: Record<string, ParamValue>;
  builtin: boolean;
}

/** The rules in force for one environment and their digest. */
export interface PolicySet {
  policyDigest: string;
  rules: PolicyRule[];
}

export function policySet(rules: PolicyRule[]): PolicySet {
  return { policyDigest: policyDigest(rules), rules };
}

/** sha256 over the canonical JSON of the rules in force, in evaluation order. */
export function policyDigest(rules: readonly PolicyRule[]): string {
  return 'sha256:' + sha256Hex(canonicalJson(rules));
}
