import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { CompactRange, rangeHash, rangeNodes, type Hash, type NodeId } from '#libs/tlog/index.js';

export interface TreeHead {
  size: number;
  root: Hash;
}

export interface StoredCheckpoint {
  size: number;
  rootHash: string;
  note: string;
  createdAt: string;
}

type Queryable = Pick<EntityManager, 'query'> | DataSource;

/** Reads of the audit log's Merkle tree: the head, stored subtree hashes, leaf indexes, checkpoints. */
@Injectable()
export class AuditTreeStore {
  constructor(private readonly dataSource: DataSource) {}

  async head(db: Queryable = this.dataSource, forUpdate = false): Promise<TreeHead> {
    const [row] = await db.query(`SELECT size, root FROM audit_tree_head WHERE id = 1${forUpdate ? ' FOR UPDATE' : ''}`);
    return { size: Number(row.size), root: row.root as Buffer };
  }

  /** The stored hashes of these complete subtrees, in one read; a missing one is an error naming it. */
  async nodes(ids: readonly NodeId[], db: Queryable = this.dataSource): Promise<Map<string, Hash>> {
    const found = new Map<string, Hash>();
    if (ids.length === 0) return found;
    const rows: { level: number; idx: string; hash: Buffer }[] = await db.query(
      `SELECT n.level, n.idx, n.hash FROM audit_tree n
         JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx`,
      [ids.map((i) => i.level), ids.map((i) => i.index)],
    );
    for (const r of rows) found.set(`${r.level}/${r.idx}`, r.hash);
    for (const id of ids) {
      if (!found.has(`${id.level}/${id.index}`))
        throw new Error(`the audit tree has no node ${id.level}/${id.index}: the tree store is incomplete`);
    }
    return found;
  }

  /** MTH of each range [a, b), reading every subtree they need in one query. */
  async rangeHashes(ranges: ReadonlyArray<readonly [number, number]>, db: Queryable = this.dataSource): Promise<Hash[]> {
    const ids = ranges.flatMap(([a, b]) => rangeNodes(a, b));
    const nodes = await this.nodes(ids, db);
    return ranges.map(([a, b]) => rangeHash(a, b, (id) => nodes.get(`${id.level}/${id.index}`)!));
  }

  /** The right edge of the tree of `size` leaves, from its stored nodes. */
  async compactRange(size: number, db: Queryable = this.dataSource): Promise<CompactRange> {
    const ids = CompactRange.ids(size);
    const nodes = await this.nodes(ids, db);
    return CompactRange.of(
      size,
      ids.map((id) => nodes.get(`${id.level}/${id.index}`)!),
    );
  }

  async leafIndex(seq: number, db: Queryable = this.dataSource): Promise<number | null> {
    const [row] = await db.query('SELECT idx FROM audit_leaves WHERE seq = $1', [seq]);
    return row ? Number(row.idx) : null;
  }

  async latestCheckpoint(db: Queryable = this.dataSource): Promise<StoredCheckpoint | null> {
    const [row] = await db.query('SELECT size, root, note, created_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1');
    return row ? checkpointRow(row) : null;
  }

  async checkpoint(size: number, db: Queryable = this.dataSource): Promise<StoredCheckpoint | null> {
    const [row] = await db.query('SELECT size, root, note, created_at FROM audit_checkpoints WHERE size = $1', [size]);
    return row ? checkpointRow(row) : null;
  }

  /** Latest first; `before` continues after the smallest size of the previous page. */
  async checkpoints(limit: number, before?: number): Promise<StoredCheckpoint[]> {
    const rows = await this.dataSource.query(
      `SELECT size, root, note, created_at FROM audit_checkpoints ${before === undefined ? '' : 'WHERE size < $2'} ORDER BY size DESC LIMIT $1`,
      before === undefined ? [limit] : [limit, before],
    );
    return rows.map(checkpointRow);
  }
}

function checkpointRow(row: { size: string; root: Buffer; note: string; created_at: Date }): StoredCheckpoint {
  return { size: Number(row.size), rootHash: row.root.toString('base64'), note: row.note, createdAt: row.created_at.toISOString() };
}
