// Benchmark of the audit log (docs/audit.md). Run through `npm run bench:audit`, which builds first.
// In a fresh database (dropped at the end): append throughput (20 connections, one event per transaction,
// as requests write them), then the log filled to BENCH_AUDIT_EVENTS events (default 1,000,000; bulk SQL,
// not timed) and integrated by the real integrator (timed: its rate), inclusion and consistency proof
// latency at that size (p50/p99 over 1,000 random proofs each), a full verification, and the cost of
// signing one checkpoint. Prints the figures as JSON on the last line.
//
// Environment: DATABASE_URL (an admin URL; default postgres://postgres@127.0.0.1:5432/postgres), BENCH_AUDIT_EVENTS.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { openDatabase } from '#libs/db/index.js';
import { formatCheckpoint, noteVerifier, signNote } from '#libs/tlog/index.js';
import { AuditIntegrator, AuditProofService, AuditTreeStore, AuditVerifier } from '#libs/workflow/index.js';
import type { AppConfig } from '#libs/config/index.js';

const EVENTS = Number(process.env.BENCH_AUDIT_EVENTS ?? 1_000_000);
const admin = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `bench_audit_${randomBytes(4).toString('hex')}`;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

const root = new pg.Client({ connectionString: admin });
await root.connect();
await root.query(`CREATE DATABASE ${name}`);
const url = new URL(admin);
url.pathname = `/${name}`;
const db = await openDatabase({ databaseUrl: url.toString(), dataDir: '', poolSize: 25 });
try {
  const { privateKey } = generateKeyPairSync('ed25519');
  const origin = 'bench.example/audit';
  const config = {
    pipeline: { audit: { origin, key: null, checkpoint: { everyEvents: 100_000, everyMs: 3_600_000 }, publish: null } },
  } as unknown as AppConfig;
  const store = new AuditTreeStore(db.dataSource);
  const key = { verifier: noteVerifier(origin, privateKey), privateKey };
  const integrator = new AuditIntegrator(db.dataSource, store, config, key);

  // 1. Appends as requests make them: one INSERT per transaction, 20 at a time, no integrator running.
  const pool = new pg.Pool({ connectionString: url.toString(), max: 20 });
  const APPENDS = 10_000;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < APPENDS) {
        const i = next++;
        const at = new Date().toISOString();
        const id = crypto.randomUUID();
        const body = JSON.stringify({ action: 'bench.append', actor: 'token:bench', at, data: { i }, id, subject: `bench:${i}` });
        await pool.query(
          `INSERT INTO audit_events (id, at, actor, action, subject, data, body) VALUES ($1, $2, 'token:bench', 'bench.append', $3, $4, $5)`,
          [id, at, `bench:${i}`, JSON.stringify({ i }), body],
        );
      }
    }),
  );
  const appendPerSec = APPENDS / ((performance.now() - started) / 1000);
  await pool.end();

  // 2. Fill to EVENTS in bulk (not timed), then let the integrator link everything (timed).
  await db.dataSource.query(
    `INSERT INTO audit_events (id, at, actor, action, subject, data, body)
     SELECT id, at, 'token:bench', 'bench.fill', 'bench:' || n, jsonb_build_object('n', n),
            format('{"action":"bench.fill","actor":"token:bench","at":"%s","data":{"n":%s},"id":"%s","subject":"bench:%s"}', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), n, id, n)
       FROM (SELECT n, gen_random_uuid() AS id, date_trunc('milliseconds', now()) AS at FROM generate_series(1, $1::int) AS n) s`,
    [Math.max(0, EVENTS - APPENDS)],
  );
  const integrateStart = performance.now();
  for (;;) {
    const round = await integrator.round();
    if (!round || round.integrated === 0) break;
  }
  const integrateSeconds = (performance.now() - integrateStart) / 1000;
  const head = await store.head();

  // 3. Proofs at that size.
  const proofs = new AuditProofService(db.dataSource, store);
  const seqs: number[] = (await db.dataSource.query('SELECT seq FROM audit_leaves ORDER BY random() LIMIT 1000')).map(
    (r: { seq: string }) => Number(r.seq),
  );
  const inclusion: number[] = [];
  for (const seq of seqs) {
    const t0 = performance.now();
    await proofs.inclusion(seq, head.size);
    inclusion.push(performance.now() - t0);
  }
  const consistency: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const from = 1 + Math.floor(Math.random() * (head.size - 1));
    const t0 = performance.now();
    await proofs.consistency(from, head.size);
    consistency.push(performance.now() - t0);
  }

  // 4. Full verification, 5. checkpoint signing.
  const verifier = new AuditVerifier(db.dataSource, store, config, key);
  const v0 = performance.now();
  const verified = await verifier.verify();
  const verifySeconds = (performance.now() - v0) / 1000;
  const SIGNS = 10_000;
  const s0 = performance.now();
  for (let i = 0; i < SIGNS; i++) signNote(formatCheckpoint(origin, head.size + i, head.root), origin, privateKey);
  const signMicros = ((performance.now() - s0) * 1000) / SIGNS;

  const figures = {
    events: head.size,
    appendPerSec: Math.round(appendPerSec),
    integratePerSec: Math.round(head.size / integrateSeconds),
    inclusionMs: { p50: +pct(inclusion, 50).toFixed(2), p99: +pct(inclusion, 99).toFixed(2) },
    consistencyMs: { p50: +pct(consistency, 50).toFixed(2), p99: +pct(consistency, 99).toFixed(2) },
    verifySeconds: +verifySeconds.toFixed(2),
    verifyOk: verified.ok,
    signCheckpointMicros: +signMicros.toFixed(1),
    loadAverage: (await import('node:os')).loadavg().map((l) => +l.toFixed(2)),
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  if (!verified.ok) process.exitCode = 1;
} finally {
  await db.close();
  await root.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await root.end();
}
