import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { parsePipeline } from './pipeline-config.js';

const BASE = `
registries:
  - name: local
    url: http://127.0.0.1:5000
environments:
  - name: dev
    repository: local/dev/{app}
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

describe('worker: concurrency and retries', () => {
  it('defaults to the values the service has always run with', () => {
    expect(parsePipeline(BASE).worker).toEqual({
      concurrency: { promote: 2, gates: 4, notify: 4, blobs: 6 },
      retries: {
        promote: { attempts: 3, backoffMs: 1_000 },
        gates: { attempts: 5, backoffMs: 1_000 },
        notify: { attempts: 8, backoffMs: 2_000 },
        registry: { attempts: 4, backoffMs: 250, maxBackoffMs: 8_000 },
      },
    });
  });

  it('takes what is written and keeps the defaults for the rest', () => {
    const worker = parsePipeline(
      BASE +
        `worker:
  concurrency: { promote: 8, gates: 2 }
  retries:
    notify: { attempts: 3 }
    gates: { backoff: 500ms }
    registry: { attempts: 6, maxBackoff: 30s }
`,
    ).worker;
    expect(worker.concurrency).toEqual({ promote: 8, gates: 2, notify: 4, blobs: 6 });
    expect(worker.retries).toEqual({
      promote: { attempts: 3, backoffMs: 1_000 },
      gates: { attempts: 5, backoffMs: 500 },
      notify: { attempts: 3, backoffMs: 2_000 },
      registry: { attempts: 6, backoffMs: 250, maxBackoffMs: 30_000 },
    });
  });

  it('names each wrong key', () => {
    expect(
      problems(
        BASE +
          `worker:
  concurrency: { promote: 0, notify: 1.5 }
  retries:
    gates: { attempts: 3, backoff: soon }
    promote: { tries: 2 }
  queues: {}
`,
      ),
    ).toEqual([
      'worker.concurrency.promote: Too small: expected number to be >=1',
      'worker.concurrency.notify: Invalid input: expected int, received number',
      'worker.retries.promote: Unrecognized key: "tries"',
      "worker.retries.gates.backoff: 'soon' is not a duration (use e.g. 30s, 15m, 24h, 7d)",
      'worker: Unrecognized key: "queues"',
    ]);
  });
});
