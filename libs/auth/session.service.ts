import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '#libs/config/index.js';
import { SessionEntity } from '#libs/db/index.js';
import { ServiceError, type Role } from '#libs/domain/index.js';
import type { Principal } from './principal.js';
import { SsoService, type SignedIn } from './sso.service.js';
import { hashToken, secretsEqual } from './token-secret.js';

export const SESSION_COOKIE = 'promoter_session';
export const STATE_COOKIE = 'promoter_sign_in';
export const CSRF_HEADER = 'x-csrf-token';
const SESSION_PREFIX = 'pms_';

export const CSRF_COOKIE = 'promoter_csrf';

/**
 * The CSRF token of a browser session, derived from its secret: the page reads it (from /api/v1/me
 * or the promoter_csrf cookie) and sends it as X-CSRF-Token; another site can do neither.
 */
export function csrfTokenFor(sessionToken: string): string {
  return createHash('sha256').update('promoter-csrf\0').update(sessionToken).digest('base64url');
}

export function isSessionToken(bearer: string): boolean {
  return bearer.startsWith(SESSION_PREFIX);
}

export interface NewSession {
  id: string;
  token: string;
  csrfToken: string;
  expiresAt: Date;
}

/**
 * Server-side sign-in sessions: the browser holds only a random secret in an HttpOnly cookie (or
 * promoctl as its bearer); the row says who it is, until when, and is revoked at sign-out. Roles
 * are re-derived from the provider once rolesRefreshInterval has passed.
 */
@Injectable()
export class SessionService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly sso: SsoService,
  ) {}

  private get limits() {
    return this.sso.settings.session;
  }

  /** A fresh session; the one the browser held before (if any) ends, so a session id never survives a sign-in. */
  async create(who: SignedIn, kind: 'browser' | 'cli', previousToken?: string): Promise<NewSession> {
    if (previousToken) await this.revoke(previousToken);
    const token = SESSION_PREFIX + randomBytes(32).toString('base64url');
    const csrfToken = csrfTokenFor(token);
    const now = new Date();
    const expiresAt = new Date(now.getTime() + this.limits.absoluteTimeout);
    const row = Object.assign(new SessionEntity(), {
      id: randomUUID(),
      kind,
      tokenHash: hashToken(token),
      csrfHash: null,
      refreshHash: null,
      person: who.person,
      subject: who.subject,
      name: who.name,
      email: who.email,
      roles: who.roles,
      groups: who.groups,
      idpRefresh: who.refreshToken,
      createdAt: now,
      lastSeenAt: now,
      refreshedAt: now,
      expiresAt,
      revokedAt: null,
    });
    await this.dataSource.getRepository(SessionEntity).insert(row);
    return { id: row.id, token, csrfToken, expiresAt };
  }

  /** The session's principal, or a 401 saying why it no longer counts. */
  async authenticate(token: string): Promise<{ principal: Principal; session: SessionEntity }> {
    const repo = this.dataSource.getRepository(SessionEntity);
    const row = await repo.findOneBy({ tokenHash: hashToken(token) });
    const refuse = (check: string, message: string) => new ServiceError('unauthorized', message, { check });
    if (!row) throw refuse('session_unknown', 'the session is not valid; sign in again');
    if (row.revokedAt !== null) throw refuse('session_ended', 'the session was signed out; sign in again');
    const now = Date.now();
    if (row.expiresAt.getTime() <= now) throw refuse('session_expired', 'the session has reached its absolute timeout; sign in again');
    if (now - row.lastSeenAt.getTime() > this.limits.idleTimeout) {
      await this.revokeRow(row.id);
      throw refuse('session_idle', 'the session was idle too long; sign in again');
    }
    if (now - row.refreshedAt.getTime() > this.limits.rolesRefreshInterval) {
      // The provider is asked again: a person removed from a group loses its role here.
      const fresh = row.idpRefresh ? await this.sso.refresh(row.idpRefresh, row.subject) : null;
      if (!fresh) {
        await this.revokeRow(row.id);
        throw refuse('session_refresh', 'the identity provider no longer vouches for this session; sign in again');
      }
      Object.assign(row, {
        roles: fresh.roles,
        groups: fresh.groups,
        name: fresh.name,
        email: fresh.email,
        person: fresh.person,
        idpRefresh: fresh.refreshToken,
        refreshedAt: new Date(),
      });
      await repo.update(
        { id: row.id },
        {
          roles: row.roles,
          groups: row.groups,
          name: row.name,
          email: row.email,
          person: row.person,
          idpRefresh: row.idpRefresh,
          refreshedAt: row.refreshedAt,
        },
      );
    }
    // Written at most once a minute: enough for an idle timeout counted in minutes.
    if (now - row.lastSeenAt.getTime() > 60_000) {
      row.lastSeenAt = new Date(now);
      await repo.update({ id: row.id }, { lastSeenAt: row.lastSeenAt });
    }
    return {
      session: row,
      principal: {
        id: `session:${row.id}`,
        name: row.name,
        roles: row.roles as Role[],
        kind: 'person',
        person: row.person,
        credential: row.kind === 'cli' ? 'cli-session' : 'session',
      },
    };
  }

  csrfMatches(sessionToken: string, given: unknown): boolean {
    return typeof given === 'string' && secretsEqual(given, csrfTokenFor(sessionToken));
  }

  /** Signs the session out for good; unknown tokens are ignored. */
  async revoke(token: string): Promise<void> {
    await this.dataSource.query(`UPDATE sessions SET revoked_at = now(), idp_refresh = NULL WHERE token_hash = $1 AND revoked_at IS NULL`, [
      hashToken(token),
    ]);
  }

  private async revokeRow(id: string): Promise<void> {
    await this.dataSource.query(`UPDATE sessions SET revoked_at = now(), idp_refresh = NULL WHERE id = $1 AND revoked_at IS NULL`, [id]);
  }

  get configured(): boolean {
    return this.config.pipeline.identity.oidc !== undefined;
  }
}
