// Policy rules: CEL expressions over facts read from the image (config, annotations, filesystem,
// other gates' results), the built-in hardening rules, and a bounded evaluator in a worker thread.
export * from './rule.js';
export * from './builtin-rules.js';
export * from './facts.js';
export { buildFacts, filesystemSection, FactsError, type FactsRequest } from './build-facts.js';
export { checkRule } from './check-rules.js';
export { resolveUser, userNeedsLookup, type IdFiles } from './user.js';
export { gateFactsOf } from './gate-facts.js';
export { CEL_VARIABLES, type RuleOutcome, type RuleProblem } from './cel-runtime.js';
export { PolicyEvaluator, type EvaluatorOptions, type EvaluationTask } from './evaluator.js';
export { evaluatePolicy, type PolicyEvaluation, type RuleResult } from './evaluate-policy.js';
