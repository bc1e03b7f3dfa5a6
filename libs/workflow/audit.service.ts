import { createHash, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { actorRecord, type Principal } from '../auth/index.js';
import { AuditEventEntity } from '../db/index.js';
import { canonicalJson } from '../domain/index.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditInput {
  action: string;
  /** `<kind>:<id>`, e.g. `promotion:0b7…` or `token:4f1…`. */
  subject: string;
  data?: Record<string, unknown>;
}

export interface AuditVerification {
  ok: boolean;
  events: number;
  head: string | null;
  brokenAt: { seq: number | null; id: string | null; reason: string } | null;
}

/** Called with a transaction's audit events once it has committed; never inside it. */
export type CommitListener = (events: readonly AuditEventEntity[]) => void;

type EventFields = Pick<AuditEventEntity, 'id' | 'at' | 'actor' | 'action' | 'subject' | 'data'>;

/** The hashed text of an event: its canonical JSON. Its position is fixed by prev_hash. */
export function eventBody(e: EventFields): string {
  return canonicalJson({ id: e.id, at: e.at.toISOString(), actor: e.actor, action: e.action, subject: e.subject, data: e.data });
}

/** hash = sha256(prev_hash ‖ canonical JSON of the event), hex. The database computes the same. */
export function eventHash(prevHash: string, e: EventFields): string {
  return createHash('sha256').update(prevHash, 'utf8').update(eventBody(e), 'utf8').digest('hex');
}

@Injectable()
export class AuditService {
  private readonly batches = new WeakMap<EntityManager, AuditEventEntity[]>();
  private readonly listeners: CommitListener[] = [];

  constructor(private readonly dataSource: DataSource) {}

  /** A transaction whose audit events are written together, in one statement, at its end. */
  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const batch: AuditEventEntity[] = [];
    const result = await this.dataSource.transaction(async (manager) => {
      batch.length = 0;
      this.batches.set(manager, batch);
      try {
        const result = await work(manager);
        await this.write(manager, batch);
        return result;
      } finally {
        this.batches.delete(manager);
      }
    });
    if (batch.length > 0) this.committed(batch);
    return result;
  }

  /**
   * Side effects of committed changes (notifications) hook in here, so that they can neither
   * roll back a change nor announce one that did not happen. Listeners must not throw or block.
   */
  onCommit(listener: CommitListener): void {
    this.listeners.push(listener);
  }

  private committed(events: readonly AuditEventEntity[]): void {
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch {
        // A listener's failure is its own business; the change has committed regardless.
      }
    }
  }

  /**
   * Records events in the caller's transaction (at its end inside `transaction()`, else now).
   * They join the chain when that transaction commits, and vanish with it if it rolls back.
   */
  async append(manager: EntityManager, actor: Principal | string, events: AuditInput | AuditInput[]): Promise<void> {
    const at = new Date();
    const rows = (Array.isArray(events) ? events : [events]).map((input) => {
      const row = Object.assign(new AuditEventEntity(), {
        id: randomUUID(),
        at,
        actor: typeof actor === 'string' ? actor : actor.id,
        action: input.action,
        subject: input.subject,
        // What is hashed must be what reads back from jsonb: plain JSON values only. A principal's
        // person, display name and credential ride in data.actor, so they are hashed with the event.
        data: JSON.parse(JSON.stringify(typeof actor === 'string' ? (input.data ?? {}) : { ...input.data, actor: actorRecord(actor) })),
      });
      row.body = eventBody(row);
      return row;
    });
    const batch = this.batches.get(manager);
    if (batch) batch.push(...rows);
    else await this.write(manager, rows);
  }

  private async write(manager: EntityManager, rows: AuditEventEntity[]): Promise<void> {
    if (rows.length === 0) return;
    await manager.query(
      `INSERT INTO audit_events (id, at, actor, action, subject, data, body)
       SELECT id, at, actor, action, subject, data, body
         FROM jsonb_to_recordset($1::jsonb)
           AS e(id uuid, at timestamptz, actor text, action text, subject text, data jsonb, body text)`,
      [JSON.stringify(rows.map((r) => ({ ...r, at: r.at.toISOString() })))],
    );
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
        const broken = (at: number, id: string | null, reason: string): AuditVerification => ({
          ok: false,
          events: count,
          head: count === 0 ? null : prev,
          brokenAt: { seq: at, id, reason },
        });
        if (seq !== expectedSeq) return broken(expectedSeq, null, `event ${expectedSeq} is missing (the next one present is ${seq})`);
        if (row.prevHash !== prev) return broken(seq, row.id, 'prev_hash does not match the hash of the event before it');
        if (eventHash(prev, row) !== row.hash) return broken(seq, row.id, 'hash does not match the event content');
        prev = row.hash;
        expectedSeq += 1;
        count += 1;
      }
      if (rows.length < batch) break;
    }
    const [head] = await this.dataSource.query('SELECT seq, hash FROM audit_head WHERE id = 1');
    const [{ unchained }] = await this.dataSource.query('SELECT count(*)::int AS unchained FROM audit_events WHERE seq IS NULL');
    const fail = (seq: number | null, reason: string): AuditVerification => ({
      ok: false,
      events: count,
      head: count === 0 ? null : prev,
      brokenAt: { seq, id: null, reason },
    });
    if (Number(head.seq) !== count || head.hash !== prev) {
      return fail(Number(head.seq), `the chain ends at event ${count} but the recorded head is event ${head.seq}: events were removed from the end`);
    }
    if (unchained > 0) return fail(null, `${unchained} event(s) are outside the chain: they were inserted around the database's chaining trigger`);
    return { ok: true, events: count, head: count === 0 ? null : prev, brokenAt: null };
  }
}
