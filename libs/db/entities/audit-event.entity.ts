import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Append-only; hash = sha256(prev_hash ‖ canonical JSON of the event). seq, prev_hash and hash
 * are set by the database when the inserting transaction commits (see the migration).
 */
@Entity({ name: 'audit_events' })
export class AuditEventEntity {
  @PrimaryColumn('uuid') id: string;
  @Column({ type: 'bigint', nullable: true }) seq: string | null;
  @Column({ type: 'timestamptz' }) at: Date;
  @Column('text') actor: string;
  @Column('text') action: string;
  @Column('text') subject: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- jsonb holds any JSON
  @Column({ type: 'jsonb' }) data: Record<string, any>;
  /** The canonical JSON that is hashed; cleared once the event is chained. */
  @Column({ type: 'text', nullable: true }) body: string | null;
  @Column({ type: 'text', name: 'prev_hash', nullable: true }) prevHash: string | null;
  @Column({ type: 'text', nullable: true }) hash: string | null;
}
