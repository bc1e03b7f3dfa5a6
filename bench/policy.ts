// Benchmark of the policy gate's engine. Run through `npm run bench:policy`, which compiles first. It
// starts one docker-registry and pushes a two-platform index whose images each have 3 gzip layers
// holding 20,000 files (a distro-sized tree, with /bin/sh and /usr/bin/dpkg), then measures:
//   1. facts: buildFacts on the index with the filesystem read (manifests, configs, every layer
//      streamed and merged), and without it (manifests and configs only);
//   2. evaluation: the nine built-in rules on both platforms' facts (18 rule evaluations in the
//      worker thread), one call at a time;
//   3. recovery: a call whose first rule never ends (stopped at a 500 ms limit) and whose eight other
//      rules then run in a fresh worker: the time above the limit is what a restart costs.
// Two discarded warm-up runs per scenario. Prints a table and, as the last line of stdout, the figures
// as JSON. Exits non-zero when a result is other than expected.
//
// Environment: BENCH_POLICY_RUNS (measured runs per scenario, default 20).
import { performance } from 'node:perf_hooks';
import {
  buildFacts,
  builtinRule,
  BUILTIN_RULE_NAMES,
  evaluatePolicy,
  PolicyEvaluator,
  policySet,
  type ParamValue,
  type PolicyRule,
} from '#libs/policy/index.js';
import { RegistryClient } from '#libs/registry/index.js';
import { layer, pushIndexOf, pushLayers, type TarEntry } from '../test/helpers/layers.js';
import { registryConfig, startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { intFromEnv, runBench } from './server.js';

const RUNS = intFromEnv('BENCH_POLICY_RUNS', 20, 1);
const WARMUP = 2;
const FILES = 20_000;
const RECOVERY_LIMIT_MS = 500;

const state: { registry: TestRegistry | null; evaluators: PolicyEvaluator[] } = { registry: null, evaluators: [] };
const log = (message: string) => process.stderr.write(`[bench:policy] ${message}\n`);

const PARAMS: Partial<Record<string, Record<string, ParamValue>>> = {
  'trusted-base-image': { bases: ['gcr.io/distroless/static'] },
  'required-labels': { labels: ['org.opencontainers.image.source'] },
  'max-age': { maxAge: '7776000s', maxAgeText: '90d' },
  'allowed-registries': { registries: ['127.0.0.1'] },
};
const BUILTINS: PolicyRule[] = BUILTIN_RULE_NAMES.map((name) => builtinRule(name, 'deny', PARAMS[name] ?? {}));

function tree(seed: number): TarEntry[][] {
  const layers: TarEntry[][] = [[], [], []];
  for (let i = 0; i < FILES; i++) layers[i % 3]!.push({ name: `usr/share/pkg${i % 400}/file-${seed}-${i}.txt`, content: `content ${i}` });
  layers[0]!.push({ name: 'bin/sh', content: '#!shell' }, { name: 'usr/bin/dpkg', content: 'dpkg' });
  return layers;
}

async function measure(name: string, fn: () => Promise<void>): Promise<{ name: string; p50: number; p95: number; max: number }> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]! * 10) / 10;
  return { name, p50: at(0.5), p95: at(0.95), max: Math.round(times.at(-1)! * 10) / 10 };
}

function expect(condition: boolean, what: string): void {
  if (!condition) throw new Error(`unexpected result: ${what}`);
}

async function main(): Promise<number> {
  state.registry = await startRegistry();
  const reg = { url: state.registry.url };
  log(`pushing two images of ${FILES} files each`);
  const children = [];
  for (const [seed, architecture] of [
    [1, 'amd64'],
    [2, 'arm64'],
  ] as const) {
    const built = [];
    for (const entries of tree(seed)) built.push(await layer(entries));
    const pushed = await pushLayers(reg, 'dev/bench', built, { architecture, config: { User: 'root' }, created: new Date().toISOString() });
    children.push({ digest: pushed.digest, size: pushed.size, architecture });
  }
  const digest = await pushIndexOf(reg, 'dev/bench', children, '1.0.0');
  const client = new RegistryClient([registryConfig('local', state.registry)], { env: {} });
  const request = (filesystem: boolean) => ({
    registry: state.registry!.host,
    repository: 'dev/bench',
    digest,
    tag: '1.0.0',
    promotion: { requester: 'bench', source: 'dev', target: 'staging', reason: 'bench' },
    filesystem,
  });

  const facts = await buildFacts(client, request(true));
  expect(
    facts.length === 2 && facts.every((f) => f.filesystem?.hasShell === true && f.filesystem.packageManagers.includes('dpkg')),
    'filesystem facts',
  );
  const evaluator = new PolicyEvaluator();
  const limited = new PolicyEvaluator({ timeoutMs: RECOVERY_LIMIT_MS });
  state.evaluators.push(evaluator, limited);
  const policy = policySet(BUILTINS);
  const first = await evaluatePolicy(evaluator, policy, facts);
  expect(first.rules.length === 18 && first.denied.some((r) => r.name === 'no-shell'), 'built-ins on the index');

  const hundred = `[${Array.from({ length: 100 }, (_, i) => i).join(',')}]`;
  const runaway: PolicyRule = {
    name: 'runaway',
    severity: 'deny',
    expression: `cel.bind(l, ${hundred}, l.all(a, l.all(b, l.all(c, l.all(d, l.all(e, a + b + c + d + e >= 0))))))`,
    message: '',
    params: {},
    builtin: false,
  };
  const recovery = policySet([runaway, ...BUILTINS.slice(1)]);

  const rows = [
    await measure('facts, filesystem read (2 platforms × 20,000 files)', async () => {
      expect((await buildFacts(client, request(true))).length === 2, 'facts');
    }),
    await measure('facts, manifests and configs only', async () => {
      expect((await buildFacts(client, request(false))).length === 2, 'facts');
    }),
    await measure('evaluate 9 built-ins × 2 platforms', async () => {
      expect((await evaluatePolicy(evaluator, policy, facts)).rules.length === 18, 'evaluation');
    }),
    await measure(`runaway rule stopped at ${RECOVERY_LIMIT_MS} ms + 8 rules in a new worker (1 platform)`, async () => {
      const result = await evaluatePolicy(limited, recovery, facts.slice(0, 1));
      expect(result.rules[0]!.outcome === 'error' && result.rules.slice(1).every((r) => r.outcome !== 'error'), 'recovery');
    }),
  ];

  console.log('| scenario | p50 ms | p95 ms | max ms |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const r of rows) console.log(`| ${r.name} | ${r.p50} | ${r.p95} | ${r.max} |`);
  console.log(JSON.stringify({ runs: RUNS, files: FILES, workersStarted: limited.workersStarted, rows }));
  return 0;
}

async function cleanup(): Promise<void> {
  await Promise.all(state.evaluators.map((e) => e.close()));
  await state.registry?.stop();
}

await runBench({ main, cleanup, budgetMs: (120 + 5 * RUNS) * 1000, log });
