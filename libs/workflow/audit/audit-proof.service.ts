import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ServiceError } from '#libs/domain/index.js';
import { consistencyRanges, EMPTY_ROOT, inclusionRanges, leafHash, rangeHash, rangeNodes } from '#libs/tlog/index.js';
import { AuditEventEntity } from '#libs/db/index.js';
import { auditEventView, type AuditEventView } from '../audit-query.service.js';
import { AuditTreeStore } from './audit-tree.store.js';

export interface InclusionProof {
  seq: number;
  /** The event's leaf index. */
  index: number;
  size: number;
  /** Base64 of the exact leaf bytes (the event's canonical JSON). */
  leaf: string;
  leafHash: string;
  /** RFC 9162 inclusion path, base64, leaf end first. */
  hashes: string[];
  rootHash: string;
  /** The signed checkpoint at `size`, when there is one. */
  checkpoint: string | null;
}

export interface ConsistencyProof {
  from: number;
  to: number;
  hashes: string[];
  fromRoot: string;
  toRoot: string;
}

export interface LeafPage {
  size: number;
  items: Array<AuditEventView & { index: number; leaf: string; proof?: string[] }>;
  /** The leaf index to continue from, null at the end of the tree of `size`. */
  next: number | null;
}

const b64 = (h: Buffer) => h.toString('base64');

/**
 * RFC 9162 proofs from the stored subtree hashes: each proof is at most 2·log2(n) ranges whose
 * complete subtrees are read in one query, so its cost does not grow with the log.
 */
@Injectable()
export class AuditProofService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly store: AuditTreeStore,
  ) {}

  /** `size` defaults to the latest checkpoint's size (else the tree's). */
  async inclusion(seq: number, size?: number): Promise<InclusionProof> {
    return this.dataSource.transaction('REPEATABLE READ', async (m) => {
      const head = await this.store.head(m);
      const [row] = await m.query('SELECT l.idx, e.body FROM audit_leaves l JOIN audit_events e ON e.seq = l.seq WHERE l.seq = $1', [seq]);
      if (!row) {
        const [queued] = await m.query('SELECT 1 FROM audit_unintegrated WHERE seq = $1', [seq]);
        throw new ServiceError(
          queued ? 'conflict' : 'not_found',
          queued
            ? `event ${seq} is not in the tree yet: the integrator links it within moments, ask again`
            : `no audit event has seq ${seq}`,
        );
      }
      const index = Number(row.idx);
      const latest = await this.store.latestCheckpoint(m);
      const n = size ?? latest?.size ?? head.size;
      if (n <= index || n > head.size) {
        throw new ServiceError(
          'bad_request',
          `size must be between ${index + 1} (event ${seq} is leaf ${index}) and ${head.size} (the tree's size), got ${n}`,
          {
            valid: { min: index + 1, max: head.size },
          },
        );
      }
      const ranges = inclusionRanges(index, n);
      const [hashes, [root]] = await Promise.all([this.store.rangeHashes(ranges, m), this.store.rangeHashes([[0, n]], m)]);
      const leaf = Buffer.from(row.body as string, 'utf8');
      const checkpoint = await this.store.checkpoint(n, m);
      return {
        seq,
        index,
        size: n,
        leaf: b64(leaf),
        leafHash: b64(leafHash(leaf)),
        hashes: hashes.map(b64),
        rootHash: b64(root!),
        checkpoint: checkpoint?.note ?? null,
      };
    });
  }

  async consistency(from: number, to?: number): Promise<ConsistencyProof> {
    return this.dataSource.transaction('REPEATABLE READ', async (m) => {
      const head = await this.store.head(m);
      const n = to ?? head.size;
      if (n > head.size || from > n) {
        throw new ServiceError('bad_request', `need 0 <= from <= to <= ${head.size} (the tree's size), got from=${from} to=${n}`, {
          valid: { min: 0, max: head.size },
        });
      }
      const ranges = consistencyRanges(from, n);
      const hashes = await this.store.rangeHashes(ranges, m);
      const [fromRoot, toRoot] = await Promise.all(
        [from, n].map((s) => (s === 0 ? EMPTY_ROOT : this.store.rangeHashes([[0, s]], m).then(([h]) => h!))),
      );
      return { from, to: n, hashes: hashes.map(b64), fromRoot: b64(fromRoot!), toRoot: b64(toRoot!) };
    });
  }

  /**
   * The leaves [start, start + limit) of the tree of `size`, with their events, optionally only
   * those in a time window and with each one's inclusion proof: one page of an export.
   */
  async leaves(q: { size: number; start: number; limit: number; from?: Date; to?: Date; proofs: boolean }): Promise<LeafPage> {
    return this.dataSource.transaction('REPEATABLE READ', async (m) => {
      const head = await this.store.head(m);
      if (q.size > head.size) {
        throw new ServiceError('bad_request', `size must be between 0 and ${head.size} (the tree's size), got ${q.size}`, {
          valid: { min: 0, max: head.size },
        });
      }
      const end = Math.min(q.start + q.limit, q.size);
      if (q.start >= end) return { size: q.size, items: [], next: null };
      const rows: Array<Record<string, unknown>> = await m.query(
        `SELECT l.idx, e.seq, e.id, e.at, e.actor, e.action, e.subject, e.data, e.body
           FROM audit_leaves l JOIN audit_events e ON e.seq = l.seq
          WHERE l.idx >= $1 AND l.idx < $2 AND ($3::timestamptz IS NULL OR e.at >= $3) AND ($4::timestamptz IS NULL OR e.at < $4)
          ORDER BY l.idx`,
        [q.start, end, q.from ?? null, q.to ?? null],
      );
      let proofs: string[][] = [];
      if (q.proofs && rows.length > 0) {
        const ranges = rows.map((r) => inclusionRanges(Number(r.idx), q.size));
        const nodes = await this.store.nodes(
          ranges.flat().flatMap(([a, b]) => rangeNodes(a, b)),
          m,
        );
        const node = (id: { level: number; index: number }) => nodes.get(`${id.level}/${id.index}`)!;
        proofs = ranges.map((list) => list.map(([a, b]) => b64(rangeHash(a, b, node))));
      }
      const items = rows.map((r, i) => {
        const event = Object.assign(new AuditEventEntity(), r) as AuditEventEntity;
        return {
          ...auditEventView(event, Number(r.idx)),
          index: Number(r.idx),
          leaf: Buffer.from(r.body as string, 'utf8').toString('base64'),
          ...(q.proofs ? { proof: proofs[i]! } : {}),
        };
      });
      return { size: q.size, items, next: end < q.size ? end : null };
    });
  }
}
