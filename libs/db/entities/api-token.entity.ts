import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'api_tokens' })
export class ApiTokenEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('text') name: string;
  @Column({ type: 'text', array: true }) roles: string[];
  /** The person (id or e-mail) or workload the token acts for; the approval rule compares owners. */
  @Column('text') owner: string;
  @Column('text') kind: 'person' | 'workload';
  /** null only for tokens created before tokens expired. */
  @Column({ type: 'timestamptz', name: 'expires_at', nullable: true }) expiresAt: Date | null;
  @Column({ type: 'timestamptz', name: 'last_used_at', nullable: true }) lastUsedAt: Date | null;
  /** sha256 of the token; the token itself is shown once and never stored. */
  @Column({ type: 'text', name: 'token_hash' }) tokenHash: string;
  @Column({ type: 'text', name: 'created_by' }) createdBy: string;
  @Column({ type: 'timestamptz', name: 'created_at' }) createdAt: Date;
  /** Set once: a revoked token never authenticates again. */
  @Column({ type: 'timestamptz', name: 'revoked_at', nullable: true }) revokedAt: Date | null;
  @Column({ type: 'text', name: 'revoked_by', nullable: true }) revokedBy: string | null;
}
