import type { PromotionStatus } from '#libs/domain/index.js';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The last error a promotion met, shown to every reader: what went wrong, where, when, on which attempt. */
export interface LastError {
  message: string;
  /** `copy`, `attachments`, `signing`, or `gate:<type>`. */
  step: string;
  at: string;
  attempt: number;
}

@Entity({ name: 'promotions' })
export class PromotionEntity {
  @PrimaryColumn('uuid') id: string;
  /** Monotonic, for cursor pagination. */
  @Column({ type: 'bigint', insert: false, update: false }) seq: string;
  @Column('text') image: string;
  @Column('text') repository: string;
  @Column('text') digest: string;
  @Column('text') app: string;
  @Column('text') source: string;
  @Column('text') target: string;
  @Column({ type: 'text', name: 'target_repository' }) targetRepository: string;
  @Column({ type: 'text', name: 'target_tag', nullable: true }) targetTag: string | null;
  @Column('text') status: PromotionStatus;
  @Column('text') reason: string;
  @Column({ type: 'text', name: 'requested_by' }) requestedBy: string;
  @Column({ type: 'text', name: 'requested_by_name' }) requestedByName: string;
  /** The person (or workload principal) behind the request: nobody approves what their person requested. */
  @Column({ type: 'text', name: 'requested_by_person' }) requestedByPerson: string;
  @Column({ type: 'text', name: 'idempotency_key', nullable: true }) idempotencyKey: string | null;
  @Column({ type: 'text', name: 'request_hash' }) requestHash: string;
  @Column('int') round: number;
  @Column({ type: 'text', name: 'evidence_digest', nullable: true }) evidenceDigest: string | null;
  @Column({ type: 'timestamptz', name: 'expires_at', nullable: true }) expiresAt: Date | null;
  @Column({ type: 'jsonb', name: 'last_error', nullable: true }) lastError: LastError | null;
  @Column({ type: 'timestamptz', name: 'created_at' }) createdAt: Date;
  @Column({ type: 'timestamptz', name: 'updated_at' }) updatedAt: Date;
}
