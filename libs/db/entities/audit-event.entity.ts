import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Append-only and written once. `seq` comes from a sequence at insert and orders the events;
 * `body` is the canonical JSON that is the event's leaf in the audit log's Merkle tree, which the
 * integrator links it into after the inserting transaction commits (see the migration).
 */
@Entity({ name: 'audit_events' })
export class AuditEventEntity {
  @PrimaryColumn('uuid') id: string;
  @Column({ type: 'bigint', insert: false }) seq: string;
  @Column({ type: 'timestamptz' }) at: Date;
  @Column('text') actor: string;
  @Column('text') action: string;
  @Column('text') subject: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- jsonb holds any JSON
  @Column({ type: 'jsonb' }) data: Record<string, any>;
  @Column('text') body: string;
}
