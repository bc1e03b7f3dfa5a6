import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { actorRecord, type Principal } from '#libs/auth/index.js';
import { AuditEventEntity } from '#libs/db/index.js';
import { auditEventBody } from '#libs/domain/index.js';

export interface AuditInput {
  action: string;
  /** `<kind>:<id>`, e.g. `promotion:0b7…` or `token:4f1…`. */
  subject: string;
  data?: Record<string, unknown>;
}

/** Called with a transaction's audit events once it has committed; never inside it. */
export type CommitListener = (events: readonly AuditEventEntity[]) => void;

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
   * They are written once, when that transaction commits, and vanish with it if it rolls back;
   * the integrator links them into the log's Merkle tree shortly after (audit/audit-integrator).
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
      row.body = auditEventBody(row);
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
}
