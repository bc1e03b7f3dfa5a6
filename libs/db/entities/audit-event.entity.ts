import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Append-only; hash = sha256(prev_hash ‖ canonical JSON of the event). */
@Entity({ name: 'audit_events' })
export class AuditEventEntity {
  @PrimaryColumn({ type: 'bigint' }) seq: string;
  @Column('uuid') id: string;
  @Column({ type: 'timestamptz' }) at: Date;
  @Column('text') actor: string;
  @Column('text') action: string;
  @Column('text') subject: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- jsonb holds any JSON
  @Column({ type: 'jsonb' }) data: Record<string, any>;
  @Column({ type: 'text', name: 'prev_hash' }) prevHash: string;
  @Column('text') hash: string;
}
