import type { Decision } from '#libs/domain/index.js';
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'reviews' })
export class ReviewEntity {
  @PrimaryColumn('uuid') id: string;
  @Column({ type: 'uuid', name: 'promotion_id' }) promotionId: string;
  @Column({ type: 'text', name: 'reviewer_id' }) reviewerId: string;
  @Column({ type: 'text', name: 'reviewer_name' }) reviewerName: string;
  @Column({ type: 'text', name: 'reviewer_person' }) reviewerPerson: string;
  @Column('text') kind: string;
  @Column('text') verdict: Decision;
  @Column('text') notes: string;
  @Column('text') channel: string;
  @Column('text') digest: string;
  @Column({ type: 'text', name: 'evidence_digest' }) evidenceDigest: string;
  @Column({ type: 'timestamptz', name: 'created_at' }) createdAt: Date;
}
