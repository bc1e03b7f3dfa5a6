import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipBomb, symlinkChain, zstdBomb } from '../helpers/hostile-images.js';
import { layer, pushLayers, type BuiltLayer } from '../helpers/layers.js';
import { eventually, localPipeline, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

// Benchmark-style: one process runs the API and the worker (as `promoter` does by default) while
// the worker scans a 4 GiB zstd bomb, the API dry-runs a policy over a 4 GiB gzip bomb and the
// worker walks issue 12's symlink bomb. It measures wall time, peak RSS and /healthz latency, and
// asserts what must hold on any machine: every health probe answered (within the 1 s issue 12
// asks), both bombs fail closed naming the limit, memory and time stay far from what the
// unbounded reader took (2.4 GB, minutes). The figures are printed for docs/security.md.

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Generous: the unbounded reader grew by 2.4 GB; this one holds a few MiB of blocks at a time. */
const RSS_GROWTH_LIMIT = 512 * MiB;
/** Generous: 512 MiB through each decompressor on a shared, loaded 2-core machine (about a minute at load 16). */
const WALL_LIMIT_MS = 240_000;
const PROBE_TIMEOUT_MS = 1_000;

describe('a hostile image does not take the process down', () => {
  let t: TestApp;
  let ci: string;

  beforeAll(async () => {
    t = await startTestApp({
      pipeline: `${localPipeline()}  - name: staging
    from: dev
    repository: local/bench-staging/{app}
    gates: { scan: { failOn: critical } }
  - name: hardened
    from: dev
    repository: local/bench-hardened/{app}
    gates: { policy: { rules: [no-shell] } }
limits:
  image: { maxUncompressedBytes: 512MiB, maxWallTime: 4m }
`,
    });
    ci = await t.token('ci', ['ci']);
  }, 60_000);
  afterAll(() => t?.close());

  const push = async (app: string, l: BuiltLayer) =>
    (await pushLayers({ url: `http://${registryHost()}` }, `dev/${app}`, [l], { tag: '1.0.0' })).digest;

  it(
    'a zstd bomb in the worker, a gzip bomb in a dry run and a symlink bomb: /healthz answers throughout, each fails closed, memory stays flat',
    async () => {
      const zstd = await push('zstd-bomb', zstdBomb(4 * GiB));
      await push('gzip-bomb', gzipBomb(4 * GiB));
      const chain = await push(
        'chain-bomb',
        await layer(symlinkChain({ links: 40, dots: 20_000, target: '/bin/busybox', head: 'bin/sh' })),
      );

      // Health probes, one after another, each with a 1 s deadline; and RSS sampled alongside.
      const probes: { ms: number; status: number }[] = [];
      let probing = true;
      const prober = (async () => {
        while (probing) {
          const at = Date.now();
          const status = await t
            .api()
            .get('/healthz')
            .timeout(PROBE_TIMEOUT_MS)
            .then((r) => r.status)
            .catch(() => 0);
          probes.push({ ms: Date.now() - at, status });
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const baseline = process.memoryUsage.rss();
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
      const started = Date.now();

      const promote = async (app: string, digest: string, target: string) => {
        const res = await t
          .api()
          .post('/api/v1/promotions')
          .set(auth(ci))
          .send({ image: `${registryHost()}/dev/${app}@${digest}`, target });
        expect(res.status).toBe(202);
        return res.body.id as string;
      };
      const settled = (id: string) =>
        eventually(async () => {
          const res = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
          return !['pending', 'evaluating'].includes(res.body.status) && res.body;
        }, WALL_LIMIT_MS);
      const [scanned, dryRun, chained] = await Promise.all([
        promote('zstd-bomb', zstd, 'staging').then(settled),
        t
          .api()
          .post('/api/v1/policy/evaluate')
          .set(auth(ci))
          .send({ image: `${registryHost()}/dev/gzip-bomb:1.0.0`, target: 'hardened' }),
        promote('chain-bomb', chain, 'hardened').then(settled),
      ]);
      const wallMs = Date.now() - started;
      probing = false;
      await prober;
      clearInterval(sampler);
      const growth = peak - baseline;
      const slowest = Math.max(...probes.map((p) => p.ms));
      console.log(
        `hostile bench: wall ${(wallMs / 1000).toFixed(1)} s, RSS ${Math.round(baseline / MiB)} → peak ${Math.round(peak / MiB)} MiB (+${Math.round(growth / MiB)}), ` +
          `${probes.length} health probes, slowest ${slowest} ms, median ${probes.map((p) => p.ms).sort((a, b) => a - b)[Math.floor(probes.length / 2)]} ms`,
      );

      const scanGate = scanned.gates.find((g: { gate: string }) => g.gate === 'scan');
      expect(scanGate).toMatchObject({ status: 'error', evidence: { code: 'limit_exceeded' } });
      expect(scanGate.summary).toContain('(limits.image.maxUncompressedBytes)');
      expect(dryRun.status).toBe(422);
      expect(JSON.stringify(dryRun.body)).toContain('(limits.image.maxUncompressedBytes)');
      // /bin/sh behind issue 12's chain does not resolve (nor would it for the kernel): no shell, and quickly.
      expect(chained.gates.find((g: { gate: string }) => g.gate === 'policy')).toMatchObject({ status: 'passed' });

      expect(probes.length).toBeGreaterThan(0);
      expect(probes.filter((p) => p.status !== 200)).toEqual([]);
      expect(growth).toBeLessThan(RSS_GROWTH_LIMIT);
      expect(wallMs).toBeLessThan(WALL_LIMIT_MS);
    },
    WALL_LIMIT_MS + 60_000,
  );
});
