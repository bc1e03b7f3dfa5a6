import type { Decision } from '#libs/domain/index.js';
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'approvals' })
export class ApprovalEntity {
  @PrimaryColumn('uuid') id: string;
  @Column({ type: 'uuid', name: 'promotion_id' }) promotionId: string;
  @Column({ type: 'text', name: 'approver_id' }) approverId: string;
  @Column({ type: 'text', name: 'approver_name' }) approverName: string;
  @Column({ type: 'text', name: 'approver_person' }) approverPerson: string;
  @Column('text') decision: Decision;
  @Column('text') comment: string;
  @Column('text') channel: string;
  /** What the approval was given on: the image digest and the digest of the gate results then. */
  @Column('text') digest: string;
  @Column({ type: 'text', name: 'evidence_digest' }) evidenceDigest: string;
  @Column({ type: 'timestamptz', name: 'created_at' }) createdAt: Date;
}
