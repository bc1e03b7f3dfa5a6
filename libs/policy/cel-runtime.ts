import type * as Cel from '@marcbachmann/cel-js';
import type { PolicyRule } from './rule.js';

export type CelModule = typeof Cel;

export interface RuleProblem {
  /** `expression`, or `message` for a placeholder of the message template. */
  where: 'expression' | 'message';
  message: string;
}

export interface RuleOutcome {
  outcome: 'pass' | 'fail' | 'error';
  /** The filled message template when the rule failed; the error when it could not be evaluated. */
  message: string | null;
}

export interface PolicyRuntime {
  check(rule: Pick<PolicyRule, 'expression' | 'message'>): RuleProblem[];
  evaluate(rule: PolicyRule, facts: Record<string, unknown>): RuleOutcome;
}

/** Variables every rule sees; `params` is the rule's own options, `now` the evaluation time. */
export const CEL_VARIABLES = [
  'image',
  'config',
  'created',
  'layerCount',
  'totalSize',
  'annotations',
  'filesystem',
  'user',
  'gates',
  'promotion',
  'params',
  'now',
] as const;

/**
 * The CEL environment, compiler and evaluator of policy rules. It runs in the main thread (the
 * compile check at start-up) and inside the evaluation worker, which receives this function's
 * source text: it must not refer to anything outside its own body.
 */
export function policyRuntime(cel: CelModule): PolicyRuntime {
  const env = new cel.Environment({
    homogeneousAggregateLiterals: false,
    // Parse-time bounds; evaluation time and memory are bounded by the worker around this.
    limits: { maxAstNodes: 2000, maxDepth: 64, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 32 },
  })
    .registerVariable('image', 'map')
    .registerVariable('config', 'map')
    .registerVariable('created', 'dyn')
    .registerVariable('layerCount', 'int')
    .registerVariable('totalSize', 'int')
    .registerVariable('annotations', 'map')
    .registerVariable('filesystem', 'map')
    .registerVariable('user', 'map')
    .registerVariable('gates', 'map')
    .registerVariable('promotion', 'map')
    .registerVariable('params', 'map')
    .registerVariable('now', 'google.protobuf.Timestamp');

  type Program = (context: Record<string, unknown>) => unknown;
  interface Compiled {
    program: Program;
    /** Literal text and placeholder programs, alternating: text, program, text, ... */
    template: Array<string | Program>;
  }
  const cache = new Map<string, Compiled>();

  function describe(err: unknown): string {
    const e = err as { summary?: string; message?: string; range?: { start: number } | null };
    const text = String(e?.summary ?? e?.message ?? err)
      .split('\n')[0]!
      .trim();
    return e?.range && typeof e.range.start === 'number' ? `${text} (at offset ${e.range.start})` : text;
  }

  function placeholders(template: string): Array<{ text: string } | { source: string }> {
    const parts: Array<{ text: string } | { source: string }> = [];
    let rest = template;
    for (;;) {
      const open = rest.indexOf('{{');
      if (open < 0) break;
      const close = rest.indexOf('}}', open + 2);
      if (close < 0) break;
      parts.push({ text: rest.slice(0, open) }, { source: rest.slice(open + 2, close).trim() });
      rest = rest.slice(close + 2);
    }
    parts.push({ text: rest });
    return parts;
  }

  function checkExpression(source: string, wantBool: boolean): string | null {
    let result: { valid: boolean; type?: string; error?: unknown };
    try {
      result = env.check(source);
    } catch (err) {
      return describe(err);
    }
    if (!result.valid) return describe(result.error);
    if (wantBool && result.type !== 'bool' && result.type !== 'dyn') return `the expression gives ${result.type}, not bool`;
    return null;
  }

  function check(rule: Pick<PolicyRule, 'expression' | 'message'>): RuleProblem[] {
    const problems: RuleProblem[] = [];
    const expressionProblem = checkExpression(rule.expression, true);
    if (expressionProblem !== null) problems.push({ where: 'expression', message: expressionProblem });
    for (const part of placeholders(rule.message)) {
      if (!('source' in part)) continue;
      const problem = part.source === '' ? 'empty placeholder {{}}' : checkExpression(part.source, false);
      if (problem !== null) problems.push({ where: 'message', message: `{{${part.source}}}: ${problem}` });
    }
    return problems;
  }

  function compile(rule: PolicyRule): Compiled {
    const key = `${rule.expression}\u0000${rule.message}`;
    let compiled = cache.get(key);
    if (!compiled) {
      compiled = {
        program: env.parse(rule.expression) as Program,
        template: placeholders(rule.message).map((p) => ('text' in p ? p.text : (env.parse(p.source) as Program))),
      };
      cache.set(key, compiled);
    }
    return compiled;
  }

  /** JSON facts to CEL values: integral numbers become ints, ISO dates under `created`/`now` stay Dates. */
  function toCel(value: unknown): unknown {
    if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
    if (Array.isArray(value)) return value.map(toCel);
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = toCel(v);
      return out;
    }
    return value;
  }

  function show(value: unknown, depth = 0): string {
    if (value === null || value === undefined) return 'null';
    if (typeof value === 'string') return value;
    if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (value instanceof Date) return value.toISOString();
    if (value instanceof Uint8Array) return Array.from(value, (b) => b.toString(16).padStart(2, '0')).join('');
    if (depth > 4) return '…';
    if (Array.isArray(value)) return '[' + value.map((v) => show(v, depth + 1)).join(', ') + ']';
    if (value instanceof Map) return '{' + [...value].map(([k, v]) => `${show(k, depth + 1)}: ${show(v, depth + 1)}`).join(', ') + '}';
    const d = value as { seconds?: unknown; nanos?: unknown };
    if (typeof d.seconds !== 'undefined' && typeof d.nanos !== 'undefined') return `${String(d.seconds)}s`;
    return (
      '{' +
      Object.entries(value)
        .map(([k, v]) => `${k}: ${show(v, depth + 1)}`)
        .join(', ') +
      '}'
    );
  }

  function evaluate(rule: PolicyRule, facts: Record<string, unknown>): RuleOutcome {
    let compiled: Compiled;
    try {
      compiled = compile(rule);
    } catch (err) {
      return { outcome: 'error', message: `the rule does not compile: ${describe(err)}` };
    }
    const context = toCel({ ...facts, params: rule.params }) as Record<string, unknown>;
    const at = typeof facts.now === 'string' ? new Date(facts.now) : new Date();
    context.now = at;
    context.created = typeof facts.created === 'string' ? new Date(facts.created) : null;
    let result: unknown;
    try {
      result = compiled.program(context);
    } catch (err) {
      return { outcome: 'error', message: `evaluation failed: ${describe(err)}` };
    }
    if (typeof result !== 'boolean') return { outcome: 'error', message: `the expression gave ${show(result).slice(0, 200)}, not a bool` };
    if (result) return { outcome: 'pass', message: null };
    const message = compiled.template
      .map((part) => {
        if (typeof part === 'string') return part;
        try {
          return show(part(context));
        } catch (err) {
          return `<${describe(err)}>`;
        }
      })
      .join('');
    return { outcome: 'fail', message: message.length > 2000 ? message.slice(0, 2000) + '…' : message };
  }

  return { check, evaluate };
}
