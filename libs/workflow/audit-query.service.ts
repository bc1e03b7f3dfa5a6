import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditEventEntity } from '#libs/db/index.js';
import { personKey } from '#libs/domain/index.js';
import { decodeCursor, encodeCursor, type Page } from './cursor.js';

export interface AuditFilter {
  subject?: string;
  actor?: string;
  /** The person (or workload) behind the actor, whatever credential they used. */
  person?: string;
  from?: Date;
  to?: Date;
  cursor?: string;
  limit: number;
}

export function auditEventView(e: AuditEventEntity, index: string | number | null = null) {
  return {
    seq: Number(e.seq),
    /** Its leaf index in the audit log's Merkle tree; null until the integrator has linked it (moments). */
    index: index === null ? null : Number(index),
    id: e.id,
    at: e.at.toISOString(),
    actor: e.actor,
    action: e.action,
    subject: e.subject,
    data: e.data,
  };
}
export type AuditEventView = ReturnType<typeof auditEventView>;

/** Reads the audit log oldest first; the cursor continues after the last event returned. */
@Injectable()
export class AuditQueryService {
  constructor(private readonly dataSource: DataSource) {}

  async list(filter: AuditFilter): Promise<Page<AuditEventView>> {
    const qb = this.dataSource
      .getRepository(AuditEventEntity)
      .createQueryBuilder('e')
      .leftJoin('audit_leaves', 'l', 'l.seq = e.seq')
      .addSelect('l.idx', 'leaf_index')
      .where('TRUE');
    if (filter.subject !== undefined) qb.andWhere('e.subject = :subject', { subject: filter.subject });
    if (filter.actor !== undefined) qb.andWhere('e.actor = :actor', { actor: filter.actor });
    if (filter.person !== undefined) qb.andWhere(`e.data->'actor'->>'person' = :person`, { person: personKey(filter.person) });
    if (filter.from !== undefined) qb.andWhere('e.at >= :from', { from: filter.from });
    if (filter.to !== undefined) qb.andWhere('e.at < :to', { to: filter.to });
    if (filter.cursor !== undefined) qb.andWhere('e.seq > :seq', { seq: decodeCursor(filter.cursor) });
    const { entities: rows, raw } = await qb
      .orderBy('e.seq', 'ASC')
      .limit(filter.limit + 1)
      .getRawAndEntities();
    const items = rows.slice(0, filter.limit);
    return {
      items: items.map((e, i) => auditEventView(e, raw[i].leaf_index)),
      nextCursor: rows.length > filter.limit ? encodeCursor(items.at(-1)!.seq!) : null,
    };
  }

  async forSubjects(subjects: string[]): Promise<AuditEventView[]> {
    if (subjects.length === 0) return [];
    const rows = await this.dataSource
      .getRepository(AuditEventEntity)
      .createQueryBuilder('e')
      .leftJoin('audit_leaves', 'l', 'l.seq = e.seq')
      .addSelect('l.idx', 'leaf_index')
      .where('e.subject IN (:...subjects)', { subjects })
      .orderBy('e.seq', 'ASC')
      .getRawAndEntities();
    return rows.entities.map((e, i) => auditEventView(e, rows.raw[i].leaf_index));
  }
}
