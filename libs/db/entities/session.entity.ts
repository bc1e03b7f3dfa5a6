import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A sign-in (browser cookie or promoctl token); secrets are kept as sha256 hashes only. */
@Entity({ name: 'sessions' })
export class SessionEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('text') kind: 'browser' | 'cli';
  @Column({ type: 'text', name: 'token_hash' }) tokenHash: string;
  @Column({ type: 'text', name: 'csrf_hash', nullable: true }) csrfHash: string | null;
  @Column({ type: 'text', name: 'refresh_hash', nullable: true }) refreshHash: string | null;
  @Column('text') person: string;
  @Column('text') subject: string;
  @Column('text') name: string;
  @Column({ type: 'text', nullable: true }) email: string | null;
  @Column({ type: 'text', array: true }) roles: string[];
  @Column({ type: 'text', array: true }) groups: string[];
  /** The identity provider's refresh token, used to re-derive roles; never leaves the server. */
  @Column({ type: 'text', name: 'idp_refresh', nullable: true }) idpRefresh: string | null;
  @Column({ type: 'timestamptz', name: 'created_at' }) createdAt: Date;
  @Column({ type: 'timestamptz', name: 'last_seen_at' }) lastSeenAt: Date;
  @Column({ type: 'timestamptz', name: 'refreshed_at' }) refreshedAt: Date;
  @Column({ type: 'timestamptz', name: 'expires_at' }) expiresAt: Date;
  @Column({ type: 'timestamptz', name: 'revoked_at', nullable: true }) revokedAt: Date | null;
}
