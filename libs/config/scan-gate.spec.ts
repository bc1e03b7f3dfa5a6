import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { parsePipeline } from './pipeline-config.js';

const pipeline = (scan: string, extra = '') => `
registries: [{ name: local, url: http://127.0.0.1:5000 }]
environments:
  - name: dev
    repository: local/dev/{app}
  - name: prod
    from: dev
    repository: local/prod/{app}
    gates: { scan: ${scan} }
${extra}`;

function issues(text: string): string[] {
  try {
    parsePipeline(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  throw new Error('parsed');
}

describe('gates.scan and scanning', () => {
  it('fills defaults and keeps durations as written', () => {
    const config = parsePipeline(pipeline('{ failOn: high }'));
    expect(config.environments[1]!.gates.scan).toEqual({
      failOn: 'high',
      ignoreUnfixed: false,
      maxAge: '24h',
      sources: ['builtin'],
      attestationKeys: [],
    });
    expect(config.scanning).toEqual({ maxWaiverMs: 90 * 86_400_000, recheckIntervalMs: 60_000 });
    expect(parsePipeline(pipeline('{}', 'scanning: { maxWaiver: 30d, recheckInterval: 10s }')).scanning).toEqual({
      maxWaiverMs: 30 * 86_400_000,
      recheckIntervalMs: 10_000,
    });
  });

  it('names the key of a bad option', () => {
    expect(issues(pipeline('{ failOn: severe }')).join('\n')).toContain('environments[1].gates.scan.failOn');
    expect(issues(pipeline('{ maxAge: soon }')).join('\n')).toContain('environments[1].gates.scan.maxAge: must be a duration');
    expect(issues(pipeline('{ sources: [builtin, clair] }')).join('\n')).toContain('environments[1].gates.scan.sources[1]');
    expect(issues(pipeline('{ sources: [attestation] }')).join('\n')).toContain(
      'environments[1].gates.scan.attestationKeys: the attestation source needs attestationKeys',
    );
    expect(issues(pipeline('{ ignoreUnfixd: true }')).join('\n')).toContain('environments[1].gates.scan');
    expect(issues(pipeline('{}', 'scanning: { maxWaiver: forever }')).join('\n')).toContain('scanning.maxWaiver');
  });
});
