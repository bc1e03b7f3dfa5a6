import { afterAll, describe, expect, it } from 'vitest';
import { sampleFacts } from '../../test/helpers/policy-facts.js';
import { checkRule } from './check-rules.js';
import { evaluatePolicy } from './evaluate-policy.js';
import { PolicyEvaluator } from './evaluator.js';
import { policySet, type PolicyRule } from './rule.js';

const rule = (name: string, expression: string, message = `${name} failed`, severity: 'deny' | 'warn' = 'deny'): PolicyRule => ({
  name,
  severity,
  expression,
  message,
  params: {},
  builtin: false,
});
const facts = (f = sampleFacts()) => f as unknown as Record<string, unknown>;

// Nested macros over a 100-element list: 10^10 steps, which never end in practice.
const HUNDRED = `[${Array.from({ length: 100 }, (_, i) => i).join(',')}]`;
const RUNAWAY = `cel.bind(l, ${HUNDRED}, l.all(a, l.all(b, l.all(c, l.all(d, l.all(e, a + b + c + d + e >= 0))))))`;
// The same shape with map: 10^8 new lists, far beyond any heap limit.
const HUGE = `cel.bind(l, ${HUNDRED}, l.map(a, l.map(b, l.map(c, l.map(d, [a, b, c, d])))).size() > 0)`;

describe('custom rules and message templates', () => {
  const evaluator = new PolicyEvaluator();
  afterAll(() => evaluator.close());

  it('fills placeholders with the facts that made the rule fail', async () => {
    const r = rule(
      'corporate-registry',
      'image.registry == "registry.corp.example"',
      'images must come from registry.corp.example, not {{image.registry}} ({{image.platforms.size()}} platform(s), {{config.Env}})',
    );
    const [out] = await evaluator.evaluate([facts(sampleFacts({ image: { registry: 'docker.io' } }))], [{ rule: r, facts: 0 }]);
    expect(out).toEqual({ outcome: 'fail', message: 'images must come from registry.corp.example, not docker.io (1 platform(s), [PATH])' });
  });

  it('sees the other gates, the promotion and its params', async () => {
    const signed = rule(
      'signed-by-ci',
      'has(gates.signature) && gates.signature.identities.exists(i, i.subject == params.subject)',
      'signed by {{gates.signature.identities.map(i, i.subject)}}',
    );
    signed.params = { subject: 'ci@corp.example' };
    const reason = rule('has-reason', 'promotion.reason.size() >= 3 && promotion.target == "staging"');
    const scan = rule('few-highs', 'gates.scan.counts.high < 3');
    const f = sampleFacts({
      gates: {
        signature: { status: 'passed', summary: '', identities: [{ subject: 'dev@corp.example' }] },
        scan: { status: 'passed', summary: '', counts: { high: 5 } },
      },
    });
    const outs = await evaluator.evaluate(
      [facts(f)],
      [signed, reason, scan].map((r) => ({ rule: r, facts: 0 })),
    );
    expect(outs.map((o) => o.outcome)).toEqual(['fail', 'pass', 'fail']);
    expect(outs[0]!.message).toBe('signed by [dev@corp.example]');
  });

  it('an expression that errors, or gives no bool, fails closed with the error', async () => {
    const outs = await evaluator.evaluate(
      [facts()],
      [rule('no-key', 'config.Labels["team"] == "web"'), rule('not-bool', 'image.registry'), rule('fine', 'true')].map((r) => ({
        rule: r,
        facts: 0,
      })),
    );
    expect(outs[0]).toEqual({ outcome: 'error', message: expect.stringMatching(/^evaluation failed: No such key: team/) });
    expect(outs[1]).toEqual({ outcome: 'error', message: 'the expression gave registry.corp.example, not a bool' });
    expect(outs[2]!.outcome).toBe('pass');
  });

  it('a placeholder that errors shows the error in its place', async () => {
    const [out] = await evaluator.evaluate([facts()], [{ rule: rule('x', 'false', 'owner is {{config.Labels["owner"]}}'), facts: 0 }]);
    expect(out!.message).toMatch(/^owner is <No such key: owner/);
  });

  it('deny failures fail the policy, warnings are listed, every platform is named', async () => {
    const amd = sampleFacts({ image: { platform: 'linux/amd64', platforms: ['linux/amd64', 'linux/arm64'] } });
    const arm = sampleFacts({ image: { platform: 'linux/arm64', platforms: ['linux/amd64', 'linux/arm64'] }, config: { User: 'root' } });
    const policy = policySet([
      rule('non-root-ish', 'config.User != "root"'),
      rule('labelled', 'size(config.Labels) > 5', 'few labels', 'warn'),
    ]);
    const result = await evaluatePolicy(evaluator, policy, [amd, arm]);
    expect(result.status).toBe('failed');
    expect(result.policyDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.rules.map((r) => [r.name, r.platform, r.outcome])).toEqual([
      ['non-root-ish', 'linux/amd64', 'pass'],
      ['labelled', 'linux/amd64', 'fail'],
      ['non-root-ish', 'linux/arm64', 'fail'],
      ['labelled', 'linux/arm64', 'fail'],
    ]);
    expect(result.summary).toBe('denied by non-root-ish (linux/arm64); warnings: labelled (linux/amd64), labelled (linux/arm64)');
    const warnOnly = await evaluatePolicy(evaluator, policySet([rule('labelled', 'false', 'few labels', 'warn')]), [amd]);
    expect(warnOnly.status).toBe('passed');
    expect(warnOnly.warnings).toHaveLength(1);
  });

  it('the policy digest changes with any rule text', () => {
    const a = policySet([rule('a', 'true')]);
    expect(policySet([rule('a', 'true')]).policyDigest).toBe(a.policyDigest);
    expect(policySet([rule('a', 'true', 'other message')]).policyDigest).not.toBe(a.policyDigest);
    expect(policySet([{ ...rule('a', 'true'), severity: 'warn' }]).policyDigest).not.toBe(a.policyDigest);
  });
});

describe('compile check', () => {
  it('accepts good rules and names the problem of bad ones', () => {
    expect(checkRule({ expression: 'image.registry == "x"', message: '{{image.registry}}' })).toEqual([]);
    expect(checkRule({ expression: 'image.registry ==', message: '' })).toEqual([
      { where: 'expression', message: expect.stringContaining('Unexpected token') },
    ]);
    expect(checkRule({ expression: 'imgae.registry == "x"', message: '' })[0]!.message).toContain('Unknown variable: imgae');
    expect(checkRule({ expression: '1 + 2', message: '' })[0]!.message).toBe('the expression gives int, not bool');
    expect(checkRule({ expression: 'true', message: 'bad {{image.}}' })).toEqual([
      { where: 'message', message: expect.stringMatching(/^\{\{image\.\}\}: /) },
    ]);
    expect(checkRule({ expression: 'true', message: 'x {{}}' })[0]!.message).toContain('empty placeholder');
  });

  it('compiles the examples in docs/policy.md', () => {
    for (const expression of [
      '!has(gates.signature) || gates.signature.identities.exists(i, i.subject.startsWith("https://github.com/acme/"))',
      '!has(gates.scan) || gates.scan.counts.critical == 0',
      'totalSize < 500 * 1024 * 1024',
      '"team" in config.Labels',
      'annotations["org.opencontainers.image.source"] != ""',
      'now - created < duration("720h")',
    ]) {
      expect(
        checkRule({ expression, message: '{{totalSize / (1024 * 1024)}} {{gates.signature.identities.map(i, i.subject)}}' }),
        expression,
      ).toEqual([]);
    }
  });

  it('refuses expressions past the parse limits (size and nesting)', () => {
    const wide = `[${Array.from({ length: 3000 }, (_, i) => i).join(',')}].size() > 0`;
    expect(checkRule({ expression: wide, message: '' })[0]!.message).toMatch(/Exceeded max/);
    const deep = '('.repeat(200) + 'true' + ')'.repeat(200);
    expect(checkRule({ expression: deep, message: '' })[0]!.message).toMatch(/Exceeded maxDepth/);
  });
});

describe('bounds on evaluation', () => {
  it('stops a rule that never ends, reports it, and evaluates the rest in a new worker', async () => {
    const evaluator = new PolicyEvaluator({ timeoutMs: 300 });
    try {
      const outs = await evaluator.evaluate(
        [facts()],
        [rule('before', 'true'), rule('runaway', RUNAWAY), rule('after', 'image.registry != ""')].map((r) => ({ rule: r, facts: 0 })),
      );
      expect(outs).toEqual([
        { outcome: 'pass', message: null },
        { outcome: 'error', message: 'the rule ran longer than the limit of 300 ms and was stopped' },
        { outcome: 'pass', message: null },
      ]);
      expect(evaluator.workersStarted).toBe(2);
      // The evaluator stays usable.
      expect(await evaluator.evaluate([facts()], [{ rule: rule('again', 'true'), facts: 0 }])).toEqual([
        { outcome: 'pass', message: null },
      ]);
    } finally {
      await evaluator.close();
    }
  });

  it('stops a rule that builds huge values at the memory limit', async () => {
    const evaluator = new PolicyEvaluator({ timeoutMs: 20_000, memoryMb: 32 });
    try {
      expect(checkRule({ expression: RUNAWAY, message: '' })).toEqual([]);
      expect(checkRule({ expression: HUGE, message: '' })).toEqual([]);
      const outs = await evaluator.evaluate(
        [facts()],
        [rule('huge', HUGE), rule('after', 'true')].map((r) => ({ rule: r, facts: 0 })),
      );
      expect(outs[0]).toEqual({ outcome: 'error', message: 'the rule used more than the memory limit of 32 MiB and was stopped' });
      expect(outs[1]).toEqual({ outcome: 'pass', message: null });
    } finally {
      await evaluator.close();
    }
  });

  it('closing stops a running rule and starts no new worker', async () => {
    const evaluator = new PolicyEvaluator({ timeoutMs: 10_000 });
    const running = evaluator.evaluate(
      [facts()],
      [rule('runaway', RUNAWAY), rule('after', 'true')].map((r) => ({ rule: r, facts: 0 })),
    );
    await new Promise((r) => setTimeout(r, 300));
    await evaluator.close();
    await expect(running).rejects.toThrow('the policy evaluator is closed');
    expect(evaluator.workersStarted).toBe(1);
    await expect(evaluator.evaluate([facts()], [{ rule: rule('x', 'true'), facts: 0 }])).rejects.toThrow('closed');
  });

  it('serves concurrent callers one at a time, each getting its own results', async () => {
    const evaluator = new PolicyEvaluator();
    try {
      const calls = Array.from({ length: 5 }, (_, i) =>
        evaluator.evaluate([facts(sampleFacts({ layerCount: i }))], [{ rule: rule('n', `layerCount == ${i}`), facts: 0 }]),
      );
      expect((await Promise.all(calls)).map((r) => r[0]!.outcome)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass']);
    } finally {
      await evaluator.close();
    }
  });
});
