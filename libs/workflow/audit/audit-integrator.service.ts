import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AppConfig } from '#libs/config/index.js';
import { formatCheckpoint, leafHash, signNote, type Hash, type NodeId } from '#libs/tlog/index.js';
import { AUDIT_KEY, type AuditKey } from './audit-key.js';
import { AuditTreeStore, type StoredCheckpoint } from './audit-tree.store.js';

/** Held (per transaction) by the one process integrating: two integrators would fork the tree. */
export const AUDIT_INTEGRATOR_LOCK = 7_301_946_216;
const BATCH = 5_000;

export class AuditIntegrityError extends Error {
  override readonly name = 'AuditIntegrityError';
}

export interface IntegrationRound {
  integrated: number;
  size: number;
  checkpoint: StoredCheckpoint | null;
}

export type CheckpointListener = (checkpoint: StoredCheckpoint) => void;

/**
 * Links appended events into the Merkle tree, in batches, after their transactions committed
 * (the Trillian sequencer's job). Each round is one transaction: leaves, new subtree hashes, the
 * dequeue and the head move together, so a crash loses nothing and repeats nothing. It refuses to
 * go on from a tree whose stored nodes do not give its head (a gap or a fork).
 */
@Injectable()
export class AuditIntegrator {
  private readonly logger = new Logger(AuditIntegrator.name);
  private readonly listeners: CheckpointListener[] = [];

  constructor(
    private readonly dataSource: DataSource,
    private readonly store: AuditTreeStore,
    private readonly config: AppConfig,
    @Inject(AUDIT_KEY) private readonly key: AuditKey | null,
  ) {}

  /** Called after each new checkpoint has committed (webhooks, OCI copy). Must not throw or block. */
  onCheckpoint(listener: CheckpointListener): void {
    this.listeners.push(listener);
  }

  get signs(): boolean {
    return this.key?.privateKey != null;
  }

  /**
   * One round. `wait` blocks for the lock (an on-demand checkpoint), otherwise a process that
   * does not hold it returns null at once. `checkpoint: 'now'` signs one at the new size.
   */
  async round(options: { wait?: boolean; checkpoint?: 'due' | 'now' } = {}): Promise<IntegrationRound | null> {
    const result = await this.dataSource.transaction(async (m) => {
      const [{ locked }] = await m.query(
        options.wait ? 'SELECT pg_advisory_xact_lock($1) IS NOT NULL AS locked' : 'SELECT pg_try_advisory_xact_lock($1) AS locked',
        [AUDIT_INTEGRATOR_LOCK],
      );
      if (!locked) return null;
      const head = await this.store.head(m, true);
      const range = await this.store.compactRange(head.size, m);
      if (!range.root().equals(head.root)) {
        throw new AuditIntegrityError(
          `the stored tree of ${head.size} leaves does not hash to the recorded head: refusing to integrate onto it`,
        );
      }
      const [{ last }] = await m.query('SELECT max(idx) AS last FROM audit_leaves');
      if ((last === null ? 0 : Number(last) + 1) !== head.size) {
        throw new AuditIntegrityError(
          `the log holds leaves up to index ${last} but its head says ${head.size} leaves: refusing a gap or a fork`,
        );
      }
      const pending: { seq: string; body: string | null }[] = await m.query(
        `SELECT u.seq, e.body FROM audit_unintegrated u LEFT JOIN audit_events e ON e.seq = u.seq ORDER BY u.seq LIMIT $1`,
        [BATCH],
      );
      const missing = pending.find((p) => p.body === null);
      if (missing) throw new AuditIntegrityError(`event ${missing.seq} was queued for the log but is gone: refusing to leave a gap`);

      const nodes: { id: NodeId; hash: Hash }[] = [];
      for (const p of pending) range.append(leafHash(Buffer.from(p.body!, 'utf8')), (id, hash) => nodes.push({ id, hash }));
      if (pending.length > 0) {
        const seqs = pending.map((p) => p.seq);
        await m.query('INSERT INTO audit_leaves (idx, seq) SELECT * FROM unnest($1::bigint[], $2::bigint[])', [
          seqs.map((_, i) => head.size + i),
          seqs,
        ]);
        await m.query('INSERT INTO audit_tree (level, idx, hash) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])', [
          nodes.map((n) => n.id.level),
          nodes.map((n) => n.id.index),
          nodes.map((n) => n.hash),
        ]);
        await m.query('DELETE FROM audit_unintegrated WHERE seq = ANY($1::bigint[])', [seqs]);
        await m.query('UPDATE audit_tree_head SET size = $1, root = $2, updated_at = now() WHERE id = 1', [range.size, range.root()]);
      }
      const checkpoint = await this.maybeCheckpoint(m, range.size, range.root(), options.checkpoint ?? 'due');
      return { integrated: pending.length, size: range.size, checkpoint };
    });
    if (!result) return null;
    const made = result.checkpoint?.fresh ?? false;
    const checkpoint = result.checkpoint
      ? {
          size: result.checkpoint.size,
          rootHash: result.checkpoint.rootHash,
          note: result.checkpoint.note,
          createdAt: result.checkpoint.createdAt,
        }
      : null;
    if (made && checkpoint) {
      for (const listener of this.listeners) {
        try {
          listener(checkpoint);
        } catch (err) {
          this.logger.warn(`a checkpoint listener failed: ${(err as Error).message}`);
        }
      }
    }
    return { integrated: result.integrated, size: result.size, checkpoint };
  }

  /** Integrates everything queued now, then makes a checkpoint at the resulting size (or returns the one there). */
  async checkpointNow(): Promise<StoredCheckpoint> {
    if (!this.signs) throw new AuditIntegrityError('no audit key is configured in this process: set audit.key in the pipeline file');
    for (;;) {
      const round = await this.round({ wait: true, checkpoint: 'now' });
      if (round && round.integrated < BATCH && round.checkpoint) return round.checkpoint;
    }
  }

  private async maybeCheckpoint(
    m: EntityManager,
    size: number,
    root: Hash,
    mode: 'due' | 'now',
  ): Promise<(StoredCheckpoint & { fresh: boolean }) | null> {
    if (!this.key?.privateKey) return null;
    const latest = await this.store.latestCheckpoint(m);
    if (latest && latest.size === size) return mode === 'now' ? { ...latest, fresh: false } : null;
    if (mode === 'due') {
      if (size === 0) return null;
      const every = this.config.pipeline.audit.checkpoint;
      const since = latest ? Date.now() - Date.parse(latest.createdAt) : Infinity;
      if (latest && size - latest.size < every.everyEvents && since < every.everyMs) return null;
    }
    const origin = this.config.pipeline.audit.origin;
    const note = signNote(formatCheckpoint(origin, size, root), origin, this.key.privateKey);
    const [row] = await m.query('INSERT INTO audit_checkpoints (size, root, note) VALUES ($1, $2, $3) RETURNING created_at', [
      size,
      root,
      note,
    ]);
    return { size, rootHash: root.toString('base64'), note, createdAt: (row.created_at as Date).toISOString(), fresh: true };
  }
}
