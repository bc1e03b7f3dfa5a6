import { createHash, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditEventEntity } from '../db/index.js';
import { canonicalJson } from '../domain/index.js';
import type { Principal } from '../auth/index.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditInput {
  action: string;
  /** `<kind>:<id>`, e.g. `promotion:0b7…` or `token:ci-main`. */
  subject: string;
  data?: Record<string, unknown>;
}

export interface AuditVerification {
  ok: boolean;
  events: number;
  head: string | null;
  brokenAt: { seq: number; id: string | null; reason: string } | null;
}

/** The hashed part of an event: everything but the hash itself. */
export function eventHash(prevHash: string, e: Omit<AuditEventEntity, 'hash' | 'prevHash'>): string {
  const body = canonicalJson({
    seq: Number(e.seq),
    id: e.id,
    at: e.at.toISOString(),
    actor: e.actor,
    action: e.action,
    subject: e.subject,
    data: e.data,
  });
  return createHash('sha256').update(prevHash, 'utf8').update(body, 'utf8').digest('hex');
}

@Injectable()
export class AuditService {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Appends inside the caller's transaction. The head row is locked until that transaction ends,
   * so appends are serialised and the chain never forks; call it last, to hold the lock briefly.
   */
  async append(manager: EntityManager, actor: Principal | string, events: AuditInput | AuditInput[]): Promise<void> {
    const list = Array.isArray(events) ? events : [events];
    if (list.length === 0) return;
    const [head] = await manager.query('SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE');
    let seq = Number(head.seq);
    let prev: string = head.hash;
    const at = new Date();
    const rows: AuditEventEntity[] = [];
    for (const input of list) {
      seq += 1;
      const row = Object.assign(new AuditEventEntity(), {
        seq: String(seq),
        id: randomUUID(),
        at,
        actor: typeof actor === 'string' ? actor : actor.id,
        action: input.action,
        subject: input.subject,
        data: JSON.parse(JSON.stringify(input.data ?? {})),
        prevHash: prev,
      });
      row.hash = eventHash(prev, row);
      prev = row.hash;
      rows.push(row);
    }
    await manager.insert(AuditEventEntity, rows);
    await manager.query('UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1', [seq, prev]);
  }

  /** Recomputes the whole chain and names the first link that does not hold. */
  async verify(): Promise<AuditVerification> {
    const repo = this.dataSource.getRepository(AuditEventEntity);
    let prev = GENESIS_HASH;
    let expectedSeq = 1;
    let count = 0;
    const batch = 1000;
    for (;;) {
      const rows = await repo
        .createQueryBuilder('e')
        .where('e.seq >= :from', { from: expectedSeq })
        .orderBy('e.seq', 'ASC')
        .limit(batch)
        .getMany();
      for (const row of rows) {
        const seq = Number(row.seq);
        const broken = (reason: string): AuditVerification => ({
          ok: false,
          events: count,
          head: prev,
          brokenAt: { seq, id: row.id, reason },
        });
        if (seq !== expectedSeq) {
          const reason = `event ${expectedSeq} is missing (the next one present is ${seq})`;
          return { ok: false, events: count, head: prev, brokenAt: { seq: expectedSeq, id: null, reason } };
        }
        if (row.prevHash !== prev) return broken('prev_hash does not match the hash of the event before it');
        if (eventHash(prev, row) !== row.hash) return broken('hash does not match the event content');
        prev = row.hash;
        expectedSeq += 1;
        count += 1;
      }
      if (rows.length < batch) break;
    }
    const [head] = await this.dataSource.query('SELECT seq, hash FROM audit_head WHERE id = 1');
    if (Number(head.seq) !== count || head.hash !== prev) {
      return {
        ok: false,
        events: count,
        head: prev,
        brokenAt: {
          seq: Number(head.seq),
          id: null,
          reason: `the chain ends at event ${count} but the recorded head is event ${head.seq}: events were removed from the end`,
        },
      };
    }
    return { ok: true, events: count, head: count === 0 ? null : prev, brokenAt: null };
  }
}
