import * as cel from '@marcbachmann/cel-js';
import { policyRuntime, type PolicyRuntime, type RuleProblem } from './cel-runtime.js';
import type { PolicyRule } from './rule.js';

let runtime: PolicyRuntime | null = null;

/** Compiles (parses and type-checks) a rule's expression and message placeholders; [] when both are fine. */
export function checkRule(rule: Pick<PolicyRule, 'expression' | 'message'>): RuleProblem[] {
  runtime ??= policyRuntime(cel);
  return runtime.check(rule);
}
