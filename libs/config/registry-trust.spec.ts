import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { DEFAULT_GATE_DEADLINE_MS, gateDeadlineMs } from './gate-deadline.js';
import { parsePipeline } from './pipeline-config.js';

// promoter.yaml keys of issue 12's registry half: where a registry may send us, and gate deadlines.

const pipeline = (registry: string, top = '', gates = '{ scan: {}, policy: { rules: [non-root] }, signature: { keys: [k.pub] } }') => `
registries:
  - name: corp
    url: https://registry.corp.example
${registry}
${top}
environments:
  - name: dev
    repository: corp/dev/{app}
  - name: prod
    from: dev
    repository: corp/prod/{app}
    gates: ${gates}
`;

function problems(text: string): string[] {
  try {
    parsePipeline(text, 'promoter.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the pipeline to be refused');
}

describe('registries: redirects and tokenRealms', () => {
  it('reads hosts, lower-cased, with or without a port; none by default', () => {
    const [corp] = parsePipeline(
      pipeline('    redirects: [MinIO.internal:9000, storage.example]\n    tokenRealms: [auth.corp.example]'),
    ).registries;
    expect(corp).toMatchObject({ redirects: ['minio.internal:9000', 'storage.example'], tokenRealms: ['auth.corp.example'] });
    expect(parsePipeline(pipeline('')).registries[0]).toMatchObject({ redirects: [], tokenRealms: [] });
  });

  it('refuses a URL or a path where a host belongs', () => {
    expect(problems(pipeline('    redirects: [https://storage.example]\n    tokenRealms: [auth.example/token]'))).toEqual([
      'registries[0].redirects[0]: must be a host or host:port, without a scheme or path',
      'registries[0].tokenRealms[0]: must be a host or host:port, without a scheme or path',
    ]);
  });
});

describe('gate deadlines', () => {
  it('each gate takes its own deadline, else the top-level gates.deadline, else 5 minutes', () => {
    const withTop = parsePipeline(
      pipeline(
        '',
        'gates: { deadline: 10m }',
        '{ scan: { deadline: 90s }, policy: { rules: [non-root] }, signature: { keys: [k.pub], deadline: 30s } }',
      ),
    );
    const prod = withTop.environments[1]!;
    expect(gateDeadlineMs(prod, 'scan')).toBe(90_000);
    expect(gateDeadlineMs(prod, 'signature')).toBe(30_000);
    expect(gateDeadlineMs(prod, 'policy')).toBe(600_000);
    const plain = parsePipeline(pipeline('')).environments[1]!;
    expect(gateDeadlineMs(plain, 'scan')).toBe(DEFAULT_GATE_DEADLINE_MS);
    expect(DEFAULT_GATE_DEADLINE_MS).toBe(300_000);
  });

  it('refuses a deadline that is not a duration above zero, naming the key', () => {
    expect(problems(pipeline('', 'gates: { deadline: soon }', '{ scan: { deadline: 0s } }'))).toEqual([
      expect.stringMatching(/^environments\[1\]\.gates\.scan\.deadline: must be .+/),
      expect.stringMatching(/^gates\.deadline: must be .+/),
    ]);
  });
});
