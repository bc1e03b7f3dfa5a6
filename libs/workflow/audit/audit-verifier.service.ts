import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type QueryRunner } from 'typeorm';
import { AppConfig } from '#libs/config/index.js';
import { CompactRange, openCheckpoint, type Hash } from '#libs/tlog/index.js';
import { AUDIT_KEY, type AuditKey } from './audit-key.js';
import { AuditTreeStore } from './audit-tree.store.js';

export interface AuditVerification {
  ok: boolean;
  /** Leaves verified (all of them when ok). */
  events: number;
  /** Events appended but not yet in the tree (the integrator links them shortly). */
  pending: number;
  /** Root hash (base64) of the verified tree, null when empty. */
  head: string | null;
  /** The latest signed checkpoint the tree was checked against. */
  checkpoint: { size: number; rootHash: string } | null;
  /** Where verification started: 0, or the size verified by the previous run (`incremental`). */
  from: number;
  /** The event (seq, id, leaf index) or the tree size (size) where verification stopped, and why. */
  brokenAt: { seq: number | null; id: string | null; index: number | null; size: number | null; reason: string } | null;
}

/**
 * An event row must say what its leaf says; the server compares them, so that verifying a
 * million events moves hashes, not bodies. A field added to auditEventBody is added here.
 */
const EVENT_MATCHES_LEAF = `(
  (e.body::jsonb->>'id')::uuid = e.id AND (e.body::jsonb->>'at')::timestamptz = e.at AND e.body::jsonb->>'actor' = e.actor
  AND e.body::jsonb->>'action' = e.action AND e.body::jsonb->>'subject' = e.subject AND e.body::jsonb->'data' = e.data)`;
const PAGE = 10_000;

/**
 * Checks the audit log as stored against itself and against the signed checkpoints: every leaf
 * hashes its event's bytes, every event matches its leaf, the tree rebuilt from the leaves has
 * the root of every checkpoint and of the head. Reads one snapshot (concurrent appends never look
 * like removals), page by page (memory stays flat), yielding between pages (the event loop keeps
 * serving). `incremental` starts from the tree this process verified last time.
 */
@Injectable()
export class AuditVerifier {
  private verified: { size: number; nodes: Hash[] } | null = null;
  private running: Promise<AuditVerification> | null = null;
  private lastRange: CompactRange | null = null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly store: AuditTreeStore,
    private readonly config: AppConfig,
    @Inject(AUDIT_KEY) private readonly key: AuditKey | null,
  ) {}

  /** Concurrent callers share one run: verification costs a full read, and its answer is the same. */
  verify(options: { incremental?: boolean } = {}): Promise<AuditVerification> {
    if (!this.running) {
      this.running = this.run(options.incremental ?? false).finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async run(incremental: boolean): Promise<AuditVerification> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const result = await this.check(runner, incremental);
      await runner.query('COMMIT');
      if (result.ok && this.lastRange) this.verified = { size: this.lastRange.size, nodes: this.lastRange.hashes() };
      return result;
    } catch (err) {
      await runner.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  private async check(q: QueryRunner, incremental: boolean): Promise<AuditVerification> {
    this.lastRange = null;
    const head = await this.store.head(q);
    const [{ pending }] = await q.query('SELECT count(*)::int AS pending FROM audit_unintegrated');
    let range = CompactRange.empty();
    if (incremental && this.verified && this.verified.size <= head.size) {
      range = CompactRange.of(this.verified.size, this.verified.nodes);
      // What was verified must still be what is stored: a rewrite of it changes these nodes.
      const stored = await this.store.compactRange(this.verified.size, q);
      if (!stored.root().equals(range.root())) {
        return this.broken(
          q,
          range,
          pending,
          range.size,
          `the stored tree of ${range.size} leaves no longer has the root verified before: history was rewritten`,
          { size: range.size },
        );
      }
    }
    const from = range.size;
    const checkpoints = await this.checkpoints(q, from);
    if ('reason' in checkpoints) return this.broken(q, range, pending, from, checkpoints.reason, { size: checkpoints.size });
    let next = 0;
    let lastCheckpoint: { size: number; rootHash: string } | null = null;
    const atCheckpoint = (): Promise<AuditVerification> | null => {
      while (next < checkpoints.list.length && checkpoints.list[next]!.size === range.size) {
        const cp = checkpoints.list[next]!;
        if (!range.root().equals(cp.root)) {
          return this.broken(
            q,
            range,
            pending,
            from,
            `the tree of ${cp.size} leaves does not have the root of the signed checkpoint at that size: history was rewritten`,
            { size: cp.size },
          );
        }
        lastCheckpoint = { size: cp.size, rootHash: cp.root.toString('base64') };
        next += 1;
      }
      return null;
    };
    const early = atCheckpoint();
    if (early) return early;

    for (let start = from; start < head.size; start += PAGE) {
      const rows: { idx: string; seq: string; present: boolean; leaf: Buffer | null; stored: Buffer | null; matches: boolean | null }[] =
        await q.query(
          `SELECT l.idx, l.seq, e.id IS NOT NULL AS present, n.hash AS stored,
                sha256('\\x00'::bytea || convert_to(e.body, 'UTF8')) AS leaf, ${EVENT_MATCHES_LEAF} AS matches
           FROM audit_leaves l
           LEFT JOIN audit_events e ON e.seq = l.seq
           LEFT JOIN audit_tree n ON n.level = 0 AND n.idx = l.idx
          WHERE l.idx >= $1 AND l.idx < $2
          ORDER BY l.idx`,
          [start, Math.min(start + PAGE, head.size)],
        );
      for (const row of rows) {
        const index = Number(row.idx);
        const seq = Number(row.seq);
        if (index !== range.size)
          return this.broken(q, range, pending, from, `leaf ${range.size} is missing (the next one present is ${index})`, {
            index: range.size,
          });
        if (!row.present) return this.broken(q, range, pending, from, `event ${seq} (leaf ${index}) was removed`, { seq, index });
        if (!row.stored || !row.leaf!.equals(row.stored))
          return this.broken(q, range, pending, from, 'hash does not match the event content', { seq, index });
        if (!row.matches)
          return this.broken(q, range, pending, from, 'the event does not match its leaf: its stored fields were edited', { seq, index });
        range.append(row.leaf!);
        const failed = atCheckpoint();
        if (failed) return failed;
      }
      if (rows.length < Math.min(PAGE, head.size - start)) {
        return this.broken(q, range, pending, from, `leaf ${range.size} is missing: events were removed from the end`, {
          index: range.size,
        });
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (next < checkpoints.list.length) {
      const cp = checkpoints.list[next]!;
      return this.broken(
        q,
        range,
        pending,
        from,
        `a signed checkpoint has ${cp.size} leaves but the log holds ${range.size}: events were removed from the end`,
        { size: cp.size },
      );
    }
    if (!range.root().equals(head.root)) {
      return this.broken(q, range, pending, from, `the tree of ${range.size} leaves does not have the recorded head's root`, {
        size: range.size,
      });
    }
    const [{ beyond }] = await q.query('SELECT count(*)::int AS beyond FROM audit_leaves WHERE idx >= $1', [head.size]);
    if (beyond > 0)
      return this.broken(q, range, pending, from, `${beyond} leaf(s) lie past the recorded head: a fork`, { index: head.size });
    const [{ outside }] = await q.query(
      `SELECT count(*)::int AS outside FROM audit_events e
        WHERE NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.seq = e.seq)
          AND NOT EXISTS (SELECT 1 FROM audit_unintegrated u WHERE u.seq = e.seq)`,
    );
    if (outside > 0) {
      return this.broken(
        q,
        range,
        pending,
        from,
        `${outside} event(s) are outside the log: they were inserted around the database's queueing trigger`,
      );
    }
    this.lastRange = range;
    return {
      ok: true,
      events: range.size,
      pending,
      head: range.size === 0 ? null : range.root().toString('base64'),
      checkpoint: lastCheckpoint,
      from,
      brokenAt: null,
    };
  }

  /** The signed checkpoints past `from`, smallest first, each checked against the audit key. */
  private async checkpoints(
    q: QueryRunner,
    from: number,
  ): Promise<{ list: { size: number; root: Buffer }[] } | { reason: string; size: number }> {
    const rows: { size: string; root: Buffer; note: string }[] = await q.query(
      'SELECT size, root, note FROM audit_checkpoints WHERE size >= $1 ORDER BY size',
      [from],
    );
    const list: { size: number; root: Buffer }[] = [];
    for (const row of rows) {
      if (this.key) {
        try {
          const cp = openCheckpoint(row.note, this.key.verifier, this.config.pipeline.audit.origin);
          if (cp.size !== Number(row.size) || !cp.rootHash.equals(row.root))
            return { reason: `the stored checkpoint at ${row.size} does not match its signed note`, size: Number(row.size) };
        } catch (err) {
          return {
            reason: `the stored checkpoint at ${row.size} is not validly signed by the audit key: ${(err as Error).message}`,
            size: Number(row.size),
          };
        }
      }
      list.push({ size: Number(row.size), root: row.root });
    }
    return { list };
  }

  private async broken(
    q: QueryRunner,
    range: CompactRange,
    pending: number,
    from: number,
    reason: string,
    at: { seq?: number; index?: number; size?: number } = {},
  ): Promise<AuditVerification> {
    let id: string | null = null;
    if (at.seq !== undefined) {
      const [row] = await q.query('SELECT id FROM audit_events WHERE seq = $1', [at.seq]);
      id = row?.id ?? null;
    }
    return {
      ok: false,
      events: range.size,
      pending,
      head: range.size === 0 ? null : range.root().toString('base64'),
      checkpoint: null,
      from,
      brokenAt: { seq: at.seq ?? null, id, index: at.index ?? null, size: at.size ?? null, reason },
    };
  }
}
