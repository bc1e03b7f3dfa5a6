import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_RULES, type PolicySet } from '#libs/policy/index.js';
import { ConfigError } from './config-error.js';
import { parsePipeline } from './pipeline-config.js';
import { policyOf } from './policy-gate.js';

const pipeline = (staging: string, extra = '') => `
registries:
  - name: local
    url: http://127.0.0.1:5000
  - name: corp
    url: https://registry.corp.example
environments:
  - name: dev
    repository: local/dev/{app}
  - name: staging
    from: dev
    repository: local/staging/{app}
${staging}
  - name: prod
    from: staging
    repository: local/prod/{app}
    gates: { policy: { rules: [non-root, no-shell] } }
  - name: open
    from: dev
    repository: local/open/{app}
${extra}`;

function policyIn(text: string, env: string, source = 'promoter.yaml'): PolicySet {
  const set = policyOf(parsePipeline(text, source).environments.find((e) => e.name === env)!.gates.policy);
  if (!set) throw new Error(`no policy for ${env}`);
  return set;
}

function problems(text: string, source = 'promoter.yaml'): string[] {
  try {
    parsePipeline(text, source);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the pipeline to be refused');
}

describe('gates.policy', () => {
  it('expands built-ins by name and with options, and adds custom rules, in order', () => {
    const set = policyIn(
      pipeline(`    gates:
      policy:
        rules:
          - non-root
          - allowed-registries
          - { name: max-age, maxAge: 30d, severity: warn }
          - { name: trusted-base-image, bases: [gcr.io/distroless/static] }
        custom:
          - name: corporate-registry
            expression: image.registry == "registry.corp.example"
            message: "images must come from registry.corp.example, not {{image.registry}}"
            severity: deny`),
      'staging',
    );
    expect(set.rules.map((r) => [r.name, r.severity, r.builtin])).toEqual([
      ['non-root', 'deny', true],
      ['allowed-registries', 'deny', true],
      ['max-age', 'warn', true],
      ['trusted-base-image', 'deny', true],
      ['corporate-registry', 'deny', false],
    ]);
    expect(set.rules[0]!.expression).toBe(BUILTIN_RULES['non-root'].expression);
    // allowed-registries defaults to the pipeline's registries.
    expect(set.rules[1]!.params).toEqual({ registries: ['127.0.0.1:5000', 'registry.corp.example'] });
    expect(set.rules[2]!.params).toEqual({ maxAge: '2592000s', maxAgeText: '30d' });
    expect(set.rules[4]!.message).toBe('images must come from registry.corp.example, not {{image.registry}}');
    expect(set.policyDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('keeps the shape the test pipeline uses, and an empty gate', () => {
    expect(policyIn(pipeline('    gates: { policy: { rules: [non-root] } }'), 'staging').rules.map((r) => r.name)).toEqual(['non-root']);
    expect(policyIn(pipeline('    gates: { policy: {} }'), 'staging').rules).toEqual([]);
    expect(policyIn(pipeline('    gates: { policy: }'), 'staging').rules).toEqual([]);
  });

  it('the digest depends on the rules in force, not on how they were written', () => {
    const a = policyIn(pipeline('    gates: { policy: { rules: [non-root] } }'), 'staging');
    const b = policyIn(pipeline('    gates:\n      policy:\n        rules:\n          - { name: non-root, severity: deny }'), 'staging');
    const c = policyIn(pipeline('    gates: { policy: { rules: [{ name: non-root, severity: warn }] } }'), 'staging');
    expect(b.policyDigest).toBe(a.policyDigest);
    expect(c.policyDigest).not.toBe(a.policyDigest);
  });

  it('a custom rule that does not compile stops start-up with its name, key and the compiler message', () => {
    const text = pipeline(`    gates:
      policy:
        custom:
          - { name: typo, expression: 'imgae.registry == "x"' }
          - { name: broken, expression: 'image.registry ==' }
          - { name: not-bool, expression: 'layerCount + 1' }
          - { name: bad-message, expression: 'true', message: 'from {{image.registry +}}' }`);
    const found = problems(text);
    expect(found).toEqual([
      "environments[1].gates.policy.custom[0].expression: rule 'typo' does not compile: Unknown variable: imgae (at offset 0)",
      expect.stringMatching(/^environments\[1\]\.gates\.policy\.custom\[1\]\.expression: rule 'broken' does not compile: Unexpected token/),
      "environments[1].gates.policy.custom[2].expression: rule 'not-bool' does not compile: the expression gives int, not bool",
      expect.stringMatching(
        /^environments\[1\]\.gates\.policy\.custom\[3\]\.message: rule 'bad-message' does not compile: \{\{image\.registry \+\}\}: /,
      ),
    ]);
    expect(() => parsePipeline(text, '/etc/promoter.yaml')).toThrow(/^\/etc\/promoter\.yaml: .*rule 'typo' does not compile/);
  });

  it('names unknown rules, missing or unknown options, and duplicates', () => {
    expect(problems(pipeline('    gates: { policy: { rules: [non-rot] } }'))).toEqual([
      expect.stringMatching(
        /^environments\[1\]\.gates\.policy\.rules\[0\]: 'non-rot' is not a built-in rule \(non-root, allowed-registries/,
      ),
    ]);
    expect(problems(pipeline('    gates: { policy: { rules: [trusted-base-image] } }'))).toEqual([
      'environments[1].gates.policy.rules[0].bases: list the trusted base images (names or sha256 digests) under bases',
    ]);
    expect(problems(pipeline('    gates: { policy: { rules: [{ name: max-age, maxAge: soon, colour: red }] } }'))).toEqual([
      'environments[1].gates.policy.rules[0].maxAge: must be a duration such as 30d or 12h',
      'environments[1].gates.policy.rules[0]: unknown option(s) for max-age: colour',
    ]);
    expect(problems(pipeline('    gates: { policy: { rules: [non-root, non-root] } }'))).toEqual([
      "environments[1].gates.policy.rules[1]: rule 'non-root' is already defined at environments[1].gates.policy.rules[0] for environment 'staging'",
    ]);
    expect(problems(pipeline('    gates: { policy: { custom: [{ name: no-shell, expression: "true" }] } }'))).toEqual([
      "environments[1].gates.policy.custom[0].name: 'no-shell' is a built-in rule's name; turn it on under rules, or name yours differently",
    ]);
    expect(problems(pipeline('    gates: { policy: { custom: [{ name: x, expression: "true", severity: block }] } }'))[0]).toMatch(
      /^environments\[1\]\.gates\.policy\.custom\[0\]\.severity: /,
    );
  });
});

describe('top-level policy and policy files', () => {
  function dir(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'policy-config-'));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(root, name, '..'), { recursive: true });
      writeFileSync(join(root, name), text);
    }
    return root;
  }

  it('top-level rules apply to every environment with a policy gate, or those named; the gate overrides by name', () => {
    const text = pipeline(
      '    gates: { policy: { rules: [{ name: max-age, maxAge: 7d }] } }',
      `policy:
  rules:
    - max-age
    - { name: no-latest-tag, environments: [prod] }
  custom:
    - { name: has-source, expression: 'annotations["org.opencontainers.image.source"] != ""', severity: warn }`,
    );
    const staging = policyIn(text, 'staging');
    expect(staging.rules.map((r) => r.name)).toEqual(['max-age', 'has-source']);
    expect(staging.rules[0]!.params.maxAgeText).toBe('7d');
    const prod = policyIn(text, 'prod');
    expect(prod.rules.map((r) => r.name)).toEqual(['max-age', 'no-latest-tag', 'has-source', 'non-root', 'no-shell']);
    expect(prod.rules[0]!.params.maxAgeText).toBe('90d');
    // Environments without a policy gate get none.
    expect(parsePipeline(text).environments.find((e) => e.name === 'open')!.gates.policy).toBeUndefined();
  });

  it('reads files relative to the pipeline file, at top level and per gate', () => {
    const root = dir({
      'policies/corp.yaml': `custom:\n  - name: corporate-registry\n    expression: image.registry == "registry.corp.example"\n    message: "not {{image.registry}}"\n`,
      'policies/prod.yaml': `rules: [no-package-manager]\n`,
    });
    const text = pipeline('    gates: { policy: { files: [policies/prod.yaml] } }', 'policy: { files: [policies/corp.yaml] }');
    const source = join(root, 'promoter.yaml');
    expect(policyIn(text, 'staging', source).rules.map((r) => r.name)).toEqual(['corporate-registry', 'no-package-manager']);
    expect(policyIn(text, 'prod', source).rules.map((r) => r.name)).toEqual(['corporate-registry', 'non-root', 'no-shell']);
  });

  it('a rule in a file that does not compile names the file; a missing file is named too', () => {
    const root = dir({ 'policies/bad.yaml': `custom:\n  - { name: bad, expression: 'image.registry ==' }\n` });
    const source = join(root, 'promoter.yaml');
    expect(problems(pipeline('    gates: { policy: {} }', 'policy: { files: [policies/bad.yaml] }'), source)).toEqual([
      expect.stringMatching(
        /^policy\.files\[0\] \(policies\/bad\.yaml\) custom\[0\]\.expression: rule 'bad' does not compile: Unexpected token/,
      ),
    ]);
    expect(problems(pipeline('    gates: { policy: { files: [nope.yaml] } }'), source)).toEqual([
      `environments[1].gates.policy.files[0]: cannot read ${join(root, 'nope.yaml')} (ENOENT)`,
    ]);
    const badKeys = dir({ 'p.yaml': 'custom: [{ name: x }]\nextra: 1\n' });
    expect(problems(pipeline('    gates: { policy: { files: [p.yaml] } }'), join(badKeys, 'promoter.yaml'))).toEqual([
      'environments[1].gates.policy.files[0] (p.yaml): custom[0].expression: Invalid input: expected string, received undefined',
      'environments[1].gates.policy.files[0] (p.yaml): Unrecognized key: "extra"',
    ]);
  });

  it('refuses environments that do not exist or have no policy gate', () => {
    expect(problems(pipeline('    gates: { policy: {} }', 'policy: { rules: [{ name: non-root, environments: [qa, open] }] }'))).toEqual([
      "policy.rules[0].environments: unknown environment 'qa'",
      "policy.rules[0].environments: environment 'open' has no policy gate",
    ]);
  });
});
