// Benchmark of what signing adds to the promote step. Run through `npm run bench:sign`, which builds first.
// It starts one docker-registry, loads a cosign-format encrypted key (scrypt N=32768, as keygen writes it)
// through the same loader the service boots with, and for each run pushes a fresh image (not timed) and
// times exactly the promote step's signing work on it, as PromoteService does it after the copy:
//   0. copy:      the small image copied into the target repository first (for scale, not part of the figure);
//   1. sign:      the simple-signing payload, ECDSA P-256, appended to a new `.sig` manifest;
//   2. attest:    the SLSA VSA and the promotion record, each a DSSE envelope in `.att` plus a sigstore
//                 bundle referrer added to the `sha256-<hex>` fallback index (docker-registry has no referrers API);
//   3. re-run:    the same step again on the same image (a retried promotion): everything found, nothing added;
//   4. crypto:    the three ECDSA signatures alone, without the registry.
// Each scenario has three discarded warm-up runs. Prints a table and, as the last line of stdout, the figures
// as JSON. Exits non-zero when a run fails or writes other than it should (a missed target is only reported).
//
// Environment: BENCH_SIGN_RUNS (measured runs, default 50).
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { getManifest, pushImage } from '../test/helpers/images.js';
import { registryConfig, startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { RegistryClient } from '#libs/registry/index.js';
import {
  generateCosignKeyPair,
  loadKeySigner,
  pae,
  PROMOTION_PREDICATE_TYPE,
  RegistrySigner,
  simpleSigningPayload,
  VSA_PREDICATE_TYPE,
  type Signer,
} from '#libs/signing/index.js';
import { promotionPredicate, verificationSummary } from '#libs/workflow/promotion-attestations.js';
import type { PromotionRecord } from '#libs/workflow/promotion-state.service.js';
import type { EnvironmentConfig } from '#libs/config/index.js';
import { intFromEnv, runBench } from './server.js';

const RUNS = intFromEnv('BENCH_SIGN_RUNS', 50, 1);
const WARMUP = 3;
const TARGET_MS = 50;

const state: { registry: TestRegistry | null; dir: string | null } = { registry: null, dir: null };
const log = (message: string) => process.stderr.write(`[bench:sign] ${message}\n`);
const round = (n: number) => Math.round(n * 100) / 100;

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { runs: s.length, min: round(s[0]!), median: round(at(0.5)), p95: round(at(0.95)), max: round(s[s.length - 1]!) };
}

/** A promotion as the promote step sees it: two gates, one approval, one security review. */
function record(repository: string, digest: string): PromotionRecord {
  const at = new Date('2026-11-24T12:00:00Z');
  const gate = (name: string) => ({
    promotionId: 'p',
    gate: name,
    round: 1,
    status: 'passed',
    summary: 'ok',
    evidence: {},
    evidenceDigest: 'sha256:' + 'e'.repeat(64),
    updatedAt: at,
  });
  return {
    promotion: {
      id: '00000000-0000-4000-8000-000000000001',
      seq: '1',
      image: `${repository}:1`,
      repository: repository.replace('/prod/', '/dev/'),
      digest,
      app: 'web',
      source: 'staging',
      target: 'prod',
      targetRepository: repository,
      targetTag: '1',
      status: 'promoting',
      reason: 'release 1',
      requestedBy: 'token:ci',
      requestedByName: 'ci',
      idempotencyKey: null,
      requestHash: 'h',
      round: 1,
      evidenceDigest: 'sha256:' + 'd'.repeat(64),
      expiresAt: null,
      createdAt: at,
      updatedAt: at,
    },
    gates: [gate('scan'), gate('signature')],
    approvals: [
      {
        id: 'a1',
        promotionId: 'p',
        approverId: 'token:rm',
        approverName: 'rm',
        decision: 'approve',
        comment: '',
        channel: 'api',
        digest,
        evidenceDigest: 'sha256:' + 'd'.repeat(64),
        createdAt: at,
      },
    ],
    reviews: [
      {
        id: 'r1',
        promotionId: 'p',
        reviewerId: 'token:sec',
        reviewerName: 'sec',
        kind: 'security',
        verdict: 'approve',
        notes: '',
        channel: 'slack',
        digest,
        evidenceDigest: 'sha256:' + 'd'.repeat(64),
        createdAt: at,
      },
    ],
  } as unknown as PromotionRecord;
}

const ENV = {
  name: 'prod',
  from: 'staging',
  gates: { scan: {}, signature: {} },
  approvals: { required: 1, roles: ['release-manager'] },
  reviews: ['security'],
} as unknown as EnvironmentConfig;

/** What PromoteService.signAndAttest does after the copy. */
async function signAndAttest(writer: RegistrySigner, repository: string, digest: string) {
  const image = { registry: 'bench', repository: repository.slice(repository.indexOf('/') + 1), digest, name: repository };
  const rec = record(repository, digest);
  const [signature, attestations] = await Promise.all([
    writer.sign(image),
    writer.attestAll(image, [
      { predicateType: VSA_PREDICATE_TYPE, predicate: verificationSummary(rec, ENV) },
      { predicateType: PROMOTION_PREDICATE_TYPE, predicate: promotionPredicate(rec, ['1'], true) },
    ]),
  ]);
  return [signature.status, ...attestations.map((a) => a.status)];
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const result = await fn();
  return [performance.now() - start, result];
}

async function main(): Promise<number> {
  state.registry = await startRegistry();
  const reg = state.registry;
  state.dir = await mkdtemp(join(tmpdir(), 'bench-sign-'));
  const pair = await generateCosignKeyPair('bench');
  const keyPath = join(state.dir, 'cosign.key');
  await writeFile(keyPath, pair.privateKeyPem, { mode: 0o600 });
  const [loadMs, signer] = await time<Signer>(() => loadKeySigner({ path: keyPath, password: 'bench' }));
  const client = new RegistryClient([registryConfig('bench', reg)], { env: {} });
  const writer = new RegistrySigner(client, signer);

  const copies: number[] = [];
  const first: number[] = [];
  const again: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    // The copy the signing follows, for scale: a small image into another repository (blobs mounted).
    const img = await pushImage(reg, `dev/web${i}`, { layers: 1, layerSize: 1024 });
    const [copyMs] = await time(() =>
      client.copy(
        { registry: 'bench', repository: `dev/web${i}`, digest: img.digest },
        { registry: 'bench', repository: `prod/web${i}`, tags: ['1'] },
      ),
    );
    const repository = `${reg.host}/prod/web${i}`;
    const [ms, statuses] = await time(() => signAndAttest(writer, repository, img.digest));
    if (statuses.some((s) => s !== 'added')) throw new Error(`run ${i}: expected everything added, got ${statuses.join(', ')}`);
    const [msAgain, statusesAgain] = await time(() => signAndAttest(writer, repository, img.digest));
    if (statusesAgain.some((s) => s !== 'present')) throw new Error(`run ${i}: re-run added something (${statusesAgain.join(', ')})`);
    const sig = JSON.parse((await getManifest(reg, `prod/web${i}`, `sha256-${img.digest.slice(7)}.sig`)).bytes.toString());
    const att = JSON.parse((await getManifest(reg, `prod/web${i}`, `sha256-${img.digest.slice(7)}.att`)).bytes.toString());
    if (sig.layers.length !== 1 || att.layers.length !== 2)
      throw new Error(`run ${i}: ${sig.layers.length} signatures, ${att.layers.length} attestations`);
    if (i >= WARMUP) {
      copies.push(copyMs);
      first.push(ms);
      again.push(msAgain);
    }
  }

  const crypto: number[] = [];
  const payload = simpleSigningPayload(`${reg.host}/prod/web`, 'sha256:' + 'a'.repeat(64));
  const statement = Buffer.alloc(2048, 'x');
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const [ms] = await time(async () => {
      await signer.sign(payload);
      await signer.sign(pae('application/vnd.in-toto+json', statement));
      await signer.sign(pae('application/vnd.in-toto+json', statement));
    });
    if (i >= WARMUP) crypto.push(ms);
  }

  const figures = {
    keyLoadMs: round(loadMs),
    copyMs: stats(copies),
    signAndAttestMs: stats(first),
    rerunMs: stats(again),
    cryptoOnlyMs: stats(crypto),
    targetMs: TARGET_MS,
    withinTarget: stats(first).p95 < TARGET_MS,
  };
  const row = (name: string, s: ReturnType<typeof stats>) =>
    `${name.padEnd(34)} ${String(s.median).padStart(8)} ${String(s.p95).padStart(8)} ${String(s.min).padStart(8)} ${String(s.max).padStart(8)}`;
  process.stdout.write(`signing key (cosign, scrypt N=32768) loaded in ${figures.keyLoadMs} ms\n`);
  process.stdout.write(
    `${'scenario (ms, ' + RUNS + ' runs)'.padEnd(34)} ${'median'.padStart(8)} ${'p95'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)}\n`,
  );
  process.stdout.write(row('copy of the image (for scale)', figures.copyMs) + '\n');
  process.stdout.write(row('sign + 2 attestations (new image)', figures.signAndAttestMs) + '\n');
  process.stdout.write(row('same again (retry: all present)', figures.rerunMs) + '\n');
  process.stdout.write(row('3 ECDSA P-256 signatures only', figures.cryptoOnlyMs) + '\n');
  process.stdout.write(`target: p95 of sign + attest under ${TARGET_MS} ms: ${figures.withinTarget ? 'met' : 'NOT met'}\n`);
  process.stdout.write(JSON.stringify(figures) + '\n');
  // A missed target is a finding to report, not a failed run (as in bench:copy).
  return 0;
}

async function cleanup(): Promise<void> {
  await state.registry?.stop();
  if (state.dir) await rm(state.dir, { recursive: true, force: true });
}

await runBench({ main, cleanup, budgetMs: (120 + 2 * RUNS) * 1000, log });
