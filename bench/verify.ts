// Benchmark of signature verification: an image carrying 100 cosign signatures in its `.sig` manifest,
// read from a real docker-registry and checked by libs/signing/verify (what the signature gate and
// `promoctl verify` run). Run through `npm run bench:verify`, which builds first. It starts one Debian
// docker-registry, pushes one image and, for each scenario, a `.sig` manifest of 100 layers (100 distinct
// payload blobs), and measures verifyImage() end to end (manifest + 100 payload reads + checks):
//   1. key-based: 100 ECDSA P-256 signatures by the trusted key (all accepted);
//   2. key-based, rejected: 100 signatures by an unknown key, checked against 3 trusted keys (all rejected);
//   3. keyless: 100 Fulcio-style certificates (leaf + intermediate chain to a test root) with Rekor SETs;
//   4. attestations: the same 100 key-based signatures plus a `.att` manifest of 100 DSSE envelopes.
// Each scenario has 2 discarded warm-up runs, then BENCH_VERIFY_RUNS measured runs (default 20). Prints a table
// and, as the last line of stdout, the figures as JSON. Exits non-zero when a run verifies other than it should.
import { sign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { signatureGateSchema } from '#libs/config/index.js';
import { RegistryClient } from '#libs/registry/index.js';
import {
  Annotations,
  inTotoStatement,
  loadVerificationPolicy,
  pae,
  simpleSigningPayload,
  verifyImage,
  type VerificationPolicy,
} from '#libs/signing/index.js';
import { pushImage } from '../test/helpers/images.js';
import { registryConfig, startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { ecKeyPair, pushCosignManifest, testFulcio, testRekor, type CosignLayer } from '../test/helpers/sigstore.js';
import { intFromEnv, runBench } from './server.js';

const SIGNATURES = 100;
const WARMUP = 2;
const RUNS = intFromEnv('BENCH_VERIFY_RUNS', 20, 1);
const ISSUER = 'https://token.actions.githubusercontent.com';
const SUBJECT = 'https://github.com/acme/app/.github/workflows/build.yml@refs/heads/main';
const PROVENANCE = 'https://slsa.dev/provenance/v1';

const state: { registry: TestRegistry | null; dir: string | null } = { registry: null, dir: null };
const log = (message: string) => process.stderr.write(`[bench:verify] ${message}\n`);
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

interface Scenario {
  name: string;
  repo: string;
  policy: VerificationPolicy;
  expectAccepted: number;
  expectVerified: boolean;
}

async function main(): Promise<number> {
  const reg = await startRegistry();
  state.registry = reg;
  const dir = await mkdtemp(join(tmpdir(), 'bench-verify-'));
  state.dir = dir;
  const trusted = ecKeyPair();
  const others = [ecKeyPair(), ecKeyPair()];
  const stranger = ecKeyPair();
  const builder = ecKeyPair();
  const fulcio = testFulcio();
  const rekor = testRekor();
  await writeFile(join(dir, 'ci.pub'), trusted.publicKeyPem);
  await Promise.all(others.map((k, i) => writeFile(join(dir, `other${i}.pub`), k.publicKeyPem)));
  await writeFile(join(dir, 'builder.pub'), builder.publicKeyPem);
  await writeFile(join(dir, 'roots.pem'), fulcio.rootsPem);
  await writeFile(join(dir, 'rekor.pub'), rekor.publicKeyPem);
  const policy = (config: object) => loadVerificationPolicy(signatureGateSchema.parse(config), dir);

  const client = new RegistryClient([registryConfig('bench', reg)], { env: {} });
  const image = async (repo: string) => (await pushImage(reg, repo, { layers: 1 })).digest;
  const payload = (repo: string, digest: string, i: number) => simpleSigningPayload(`${reg.host}/${repo}`, digest, { n: i });
  const keySigned = (key: KeyObject, repo: string, digest: string, i: number): CosignLayer => {
    const blob = payload(repo, digest, i);
    return { blob, annotations: { [Annotations.signature]: sign('sha256', blob, key).toString('base64') } };
  };

  const scenarios: Array<Scenario & { digest: string }> = [];
  log(`pushing ${SIGNATURES}-signature images to ${reg.host}`);

  {
    const repo = 'bench/keyed';
    const digest = await image(repo);
    await pushCosignManifest(
      reg,
      repo,
      digest,
      'sig',
      Array.from({ length: SIGNATURES }, (_, i) => keySigned(trusted.privateKey, repo, digest, i)),
    );
    scenarios.push({
      name: `key-based, ${SIGNATURES} valid`,
      repo,
      digest,
      policy: policy({ keys: ['ci.pub'] }),
      expectAccepted: SIGNATURES,
      expectVerified: true,
    });
  }
  {
    const repo = 'bench/unknown';
    const digest = await image(repo);
    await pushCosignManifest(
      reg,
      repo,
      digest,
      'sig',
      Array.from({ length: SIGNATURES }, (_, i) => keySigned(stranger.privateKey, repo, digest, i)),
    );
    scenarios.push({
      name: `key-based, ${SIGNATURES} by an unknown key, 3 trusted keys`,
      repo,
      digest,
      policy: policy({ keys: ['ci.pub', 'other0.pub', 'other1.pub'] }),
      expectAccepted: 0,
      expectVerified: false,
    });
  }
  {
    const repo = 'bench/keyless';
    const digest = await image(repo);
    const layers = Array.from({ length: SIGNATURES }, (_, i): CosignLayer => {
      const leaf = fulcio.leaf({ uri: SUBJECT, oidcIssuer: ISSUER });
      const blob = payload(repo, digest, i);
      const signature = sign('sha256', blob, leaf.key);
      return {
        blob,
        annotations: {
          [Annotations.signature]: signature.toString('base64'),
          [Annotations.certificate]: leaf.pem,
          [Annotations.chain]: fulcio.intermediate.pem + fulcio.root.pem,
          [Annotations.bundle]: rekor.bundle({ payload: blob, signature, certificatePem: leaf.pem, logIndex: i }),
        },
      };
    });
    await pushCosignManifest(reg, repo, digest, 'sig', layers);
    const keyless = policy({
      identities: [{ issuer: ISSUER, subjectRegExp: '^https://github\\.com/acme/.+' }],
      trustedRoot: { fulcioRoots: 'roots.pem', rekorKey: 'rekor.pub' },
    });
    scenarios.push({
      name: `keyless (Fulcio chain + Rekor SET), ${SIGNATURES} valid`,
      repo,
      digest,
      policy: keyless,
      expectAccepted: SIGNATURES,
      expectVerified: true,
    });
  }
  {
    const repo = 'bench/attested';
    const digest = await image(repo);
    await pushCosignManifest(
      reg,
      repo,
      digest,
      'sig',
      Array.from({ length: SIGNATURES }, (_, i) => keySigned(trusted.privateKey, repo, digest, i)),
    );
    const envelopes = Array.from({ length: SIGNATURES }, (_, i): CosignLayer => {
      const statement = Buffer.from(
        JSON.stringify(inTotoStatement(`${reg.host}/${repo}`, digest, PROVENANCE, { buildDefinition: { n: i }, runDetails: {} })),
      );
      const sig = sign('sha256', pae('application/vnd.in-toto+json', statement), builder.privateKey).toString('base64');
      const blob = Buffer.from(
        JSON.stringify({
          payloadType: 'application/vnd.in-toto+json',
          payload: statement.toString('base64'),
          signatures: [{ keyid: '', sig }],
        }),
      );
      return { blob, annotations: { [Annotations.signature]: '', predicateType: PROVENANCE } };
    });
    await pushCosignManifest(reg, repo, digest, 'att', envelopes);
    const attested = policy({ keys: ['ci.pub'], attestations: [{ predicateType: PROVENANCE, keys: ['builder.pub'] }] });
    scenarios.push({
      name: `key-based ${SIGNATURES} + ${SIGNATURES} attestations`,
      repo,
      digest,
      policy: attested,
      expectAccepted: SIGNATURES,
      expectVerified: true,
    });
  }

  const results: Array<{ scenario: string; runs: number; medianMs: number; minMs: number; maxMs: number; perSignatureMs: number }> = [];
  let failed = false;
  for (const s of scenarios) {
    const times: number[] = [];
    for (let run = 0; run < WARMUP + RUNS; run++) {
      const started = performance.now();
      const report = await verifyImage(client, { registry: 'bench', repository: s.repo, digest: s.digest }, s.policy);
      const ms = performance.now() - started;
      const accepted = report.signatures.items.filter((i) => i.accepted).length;
      if (accepted !== s.expectAccepted || report.verified !== s.expectVerified || report.signatures.examined !== SIGNATURES) {
        log(`${s.name}: run ${run} accepted ${accepted}, verified ${report.verified}, examined ${report.signatures.examined}`);
        const unexpected = report.signatures.items.filter((i) => i.accepted !== s.expectAccepted > 0).slice(0, 3);
        for (const i of unexpected) log(`  [${i.index}] ${i.reason ?? 'accepted'}: ${i.detail}`);
        failed = true;
      }
      if (run >= WARMUP) times.push(ms);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    results.push({
      scenario: s.name,
      runs: RUNS,
      medianMs: round(median),
      minMs: round(times[0]!),
      maxMs: round(times[times.length - 1]!),
      perSignatureMs: round(median / SIGNATURES, 3),
    });
  }

  // The floor: the same registry reads with no checks (the `.sig` manifest and its 100 payloads, 8 at a time).
  {
    const s0 = scenarios[0]!;
    const times: number[] = [];
    for (let run = 0; run < WARMUP + RUNS; run++) {
      const started = performance.now();
      const manifest = await client.getManifest({ registry: 'bench', repository: s0.repo }, `sha256-${s0.digest.slice(7)}.sig`);
      const layers = [...(manifest.json.layers ?? [])];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let layer = layers.shift(); layer; layer = layers.shift())
            await client.readBlob({ registry: 'bench', repository: s0.repo }, layer, 64 * 1024);
        }),
      );
      if (run >= WARMUP) times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    results.push({
      scenario: `registry reads only (.sig + ${SIGNATURES} payloads), no checks`,
      runs: RUNS,
      medianMs: round(median),
      minMs: round(times[0]!),
      maxMs: round(times[times.length - 1]!),
      perSignatureMs: round(median / SIGNATURES, 3),
    });
  }

  const pad = (text: string, n: number) => text.padEnd(n);
  process.stdout.write(
    `\n${pad('scenario', 62)} ${'median ms'.padStart(10)} ${'min'.padStart(8)} ${'max'.padStart(8)} ${'ms/sig'.padStart(8)}\n`,
  );
  for (const r of results) {
    process.stdout.write(
      `${pad(r.scenario, 62)} ${String(r.medianMs).padStart(10)} ${String(r.minMs).padStart(8)} ${String(r.maxMs).padStart(8)} ${String(r.perSignatureMs).padStart(8)}\n`,
    );
  }
  process.stdout.write(`${JSON.stringify({ signatures: SIGNATURES, runs: RUNS, results })}\n`);
  return failed ? 1 : 0;
}

await runBench({
  main,
  budgetMs: 10 * 60_000,
  log,
  async cleanup() {
    await state.registry?.stop();
    if (state.dir) await rm(state.dir, { recursive: true, force: true });
  },
});
