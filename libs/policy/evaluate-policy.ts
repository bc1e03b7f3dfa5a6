import type { PolicyEvaluator } from './evaluator.js';
import type { ImageFacts } from './facts.js';
import type { PolicySet, Severity } from './rule.js';

export interface RuleResult {
  name: string;
  severity: Severity;
  outcome: 'pass' | 'fail' | 'error';
  /** Why it failed, with the values that made it fail; the error for `error`; null when it passed. */
  message: string | null;
  platform: string;
}

export interface PolicyEvaluation {
  status: 'passed' | 'failed';
  summary: string;
  /** Digest of the rules in force (canonical JSON): what the attestation records. */
  policyDigest: string;
  platforms: string[];
  rules: RuleResult[];
  /** Deny rules that failed or errored (fail closed), and warn rules that did, by name and platform. */
  denied: RuleResult[];
  warnings: RuleResult[];
}

/** Every rule on every platform's facts; any deny rule that fails or errors fails the whole. */
export async function evaluatePolicy(evaluator: PolicyEvaluator, policy: PolicySet, facts: ImageFacts[]): Promise<PolicyEvaluation> {
  const tasks = facts.flatMap((_, f) => policy.rules.map((rule) => ({ rule, facts: f })));
  const outcomes = await evaluator.evaluate(facts as unknown as Record<string, unknown>[], tasks);
  const rules: RuleResult[] = tasks.map((task, i) => ({
    name: task.rule.name,
    severity: task.rule.severity,
    outcome: outcomes[i]!.outcome,
    message: outcomes[i]!.message,
    platform: facts[task.facts]!.image.platform,
  }));
  const notPassed = rules.filter((r) => r.outcome !== 'pass');
  const denied = notPassed.filter((r) => r.severity === 'deny');
  const warnings = notPassed.filter((r) => r.severity === 'warn');
  const platforms = facts.map((f) => f.image.platform);
  return {
    status: denied.length > 0 ? 'failed' : 'passed',
    summary: summarise(policy, denied, warnings, platforms),
    policyDigest: policy.policyDigest,
    platforms,
    rules,
    denied,
    warnings,
  };
}

function summarise(policy: PolicySet, denied: RuleResult[], warnings: RuleResult[], platforms: string[]): string {
  const where = (r: RuleResult) => (platforms.length > 1 ? `${r.name} (${r.platform})` : r.name);
  const names = (rs: RuleResult[]) => rs.map((r) => (r.outcome === 'error' ? `${where(r)}: error` : where(r))).join(', ');
  const warned = warnings.length > 0 ? `; warnings: ${names(warnings)}` : '';
  if (policy.rules.length === 0) return 'no policy rules are in force';
  if (denied.length > 0) return `denied by ${names(denied)}${warned}`;
  return `${policy.rules.length} rule(s) passed on ${platforms.join(', ')}${warned}`;
}
