import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'gate_results' })
export class GateResultEntity {
  @PrimaryColumn({ type: 'uuid', name: 'promotion_id' }) promotionId: string;
  @PrimaryColumn('text') gate: string;
  /** The evaluation round this result belongs to; re-evaluation starts a new round. */
  @Column('int') round: number;
  @Column('text') status: string;
  @Column('text') summary: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- jsonb holds any JSON
  @Column({ type: 'jsonb' }) evidence: Record<string, any>;
  @Column({ type: 'text', name: 'evidence_digest', nullable: true }) evidenceDigest: string | null;
  @Column({ type: 'timestamptz', name: 'updated_at' }) updatedAt: Date;
}
