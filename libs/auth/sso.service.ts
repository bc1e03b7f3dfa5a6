import { Injectable } from '@nestjs/common';
import * as oidc from 'openid-client';
import { DataSource } from 'typeorm';
import { AppConfig, isLoopbackHost, type OidcConfig } from '#libs/config/index.js';
import { personKey, ROLES, ServiceError, type Role } from '#libs/domain/index.js';
import { hashToken } from './token-secret.js';

/** How long a started sign-in may take at the identity provider. */
const SIGN_IN_TTL_MS = 10 * 60_000;

/** Who signed in, as the provider's claims say, with the roles the mapping gives them now. */
export interface SignedIn {
  subject: string;
  person: string;
  name: string;
  email: string | null;
  groups: string[];
  roles: Role[];
  /** The provider's refresh token, if it gave one: roles are re-derived with it. */
  refreshToken: string | null;
}

/** A returnTo that stays on this service: a path, never `//host` or `/\host` or a scheme. */
export function safeReturnTo(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return '/';
  if (typeof value !== 'string' || value.length > 2048) return null;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\') || /[\x00-\x1f\\]/.test(value)) return null;
  const parsed = new URL(value, 'https://promoter.invalid');
  return parsed.origin === 'https://promoter.invalid' ? parsed.pathname + parsed.search + parsed.hash : null;
}

/**
 * Single sign-on through the `identity.oidc` provider: authorization code with PKCE, the
 * provider's metadata and keys from its discovery document (openid-client).
 */
@Injectable()
export class SsoService {
  private discovered: Promise<oidc.Configuration> | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
  ) {}

  get settings(): OidcConfig {
    const settings = this.config.pipeline.identity.oidc;
    if (!settings) throw new ServiceError('not_found', 'single sign-on is not configured (identity.oidc)');
    return settings;
  }

  get enabled(): boolean {
    return this.config.pipeline.identity.oidc !== undefined;
  }

  get callbackUrl(): string {
    return `${this.settings.publicUrl.replace(/\/$/, '')}/auth/callback`;
  }

  /** Over https (or a loopback address that the promoter reaches as https through a proxy): Secure cookies. */
  get secureCookies(): boolean {
    return new URL(this.settings.publicUrl).protocol === 'https:';
  }

  private provider(): Promise<oidc.Configuration> {
    this.discovered ??= (async () => {
      const s = this.settings;
      const issuer = new URL(s.issuer);
      const secret = this.config.oidcClientSecret;
      const auth = secret ? oidc.ClientSecretBasic(secret) : oidc.None();
      const options =
        issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname) ? { execute: [oidc.allowInsecureRequests] } : undefined;
      return oidc.discovery(issuer, s.clientId, secret ?? undefined, auth, { ...options, timeout: 10 });
    })().catch((err: Error) => {
      this.discovered = null;
      throw new ServiceError('bad_gateway', `the identity provider's discovery document cannot be read: ${err.message}`);
    });
    return this.discovered;
  }

  /** The provider URL to send the browser to; the state binds the answer to this browser. */
  async start(returnTo: string): Promise<{ url: string; state: string }> {
    const config = await this.provider();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const now = new Date();
    await this.dataSource.query(`DELETE FROM sign_in_attempts WHERE expires_at < now() - interval '1 hour'`);
    await this.dataSource.query(
      `INSERT INTO sign_in_attempts (state_hash, verifier, nonce, return_to, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [hashToken(state), verifier, nonce, returnTo, now, new Date(now.getTime() + SIGN_IN_TTL_MS)],
    );
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.callbackUrl,
      scope: this.settings.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, state };
  }

  /**
   * Finishes a sign-in from the callback's query. The attempt is used up before the code is
   * exchanged, so a replayed callback (or authorization code) signs no one in.
   */
  async finish(query: Record<string, string>, browserState: string | undefined): Promise<{ who: SignedIn; returnTo: string }> {
    const state = query.state;
    if (!state) throw new ServiceError('unauthorized', 'state mismatch: the callback carries no state', { check: 'state' });
    if (!browserState || browserState !== state) {
      throw new ServiceError('unauthorized', 'state mismatch: this sign-in was not started in this browser', { check: 'state' });
    }
    const result: unknown[] = await this.dataSource.query(
      `UPDATE sign_in_attempts SET used_at = now() WHERE state_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING verifier, nonce, return_to`,
      [hashToken(state)],
    );
    // TypeORM answers an UPDATE … RETURNING with [rows, count].
    const rows = (Array.isArray(result[0]) ? result[0] : result) as { verifier: string; nonce: string; return_to: string }[];
    const attempt = rows[0];
    if (!attempt)
      throw new ServiceError('unauthorized', 'state mismatch: the sign-in is unknown, expired or already used', { check: 'state' });
    if (query.error) {
      throw new ServiceError('unauthorized', `the identity provider refused the sign-in: ${query.error.slice(0, 100)}`, {
        check: 'provider',
      });
    }
    const config = await this.provider();
    const current = new URL(this.callbackUrl);
    for (const [k, v] of Object.entries(query)) current.searchParams.set(k, v);
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: attempt.verifier,
        expectedState: state,
        expectedNonce: attempt.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw signInRefusal(err);
    }
    const idClaims = tokens.claims();
    if (!idClaims) throw new ServiceError('unauthorized', 'the identity provider returned no ID token', { check: 'id_token' });
    const claims = await this.withUserInfo(config, idClaims, tokens.access_token);
    return { who: this.signedIn(claims, tokens.refresh_token ?? null), returnTo: attempt.return_to };
  }

  /** Providers may keep profile, e-mail and group claims out of the ID token: the userinfo endpoint has them. */
  private async withUserInfo(
    config: oidc.Configuration,
    idClaims: Record<string, unknown>,
    accessToken: string,
  ): Promise<Record<string, unknown>> {
    if (!config.serverMetadata().userinfo_endpoint) return idClaims;
    try {
      const info = await oidc.fetchUserInfo(config, accessToken, idClaims.sub as string);
      return { ...info, ...idClaims, ...Object.fromEntries(Object.entries(info).filter(([k]) => !(k in idClaims))) };
    } catch (err) {
      throw new ServiceError(
        'unauthorized',
        `the identity provider's userinfo answer did not verify: ${(err as Error).message.slice(0, 200)}`,
        { check: 'userinfo' },
      );
    }
  }

  /** Fresh claims through the provider's refresh token; null when the provider no longer vouches for them. */
  async refresh(refreshToken: string, subject: string): Promise<SignedIn | null> {
    try {
      const config = await this.provider();
      const tokens = await oidc.refreshTokenGrant(config, refreshToken);
      const idClaims: Record<string, unknown> = tokens.claims() ?? { sub: subject };
      if (idClaims.sub !== subject) return null;
      const claims = await this.withUserInfo(config, idClaims, tokens.access_token);
      return this.signedIn(claims, tokens.refresh_token ?? refreshToken);
    } catch {
      return null;
    }
  }

  /** The person, display name, groups and (from the mapping, now) roles in a set of claims. */
  signedIn(claims: Record<string, unknown>, refreshToken: string | null): SignedIn {
    const s = this.settings;
    const text = (name: string) =>
      typeof claims[name] === 'string' && (claims[name] as string).length <= 512 ? (claims[name] as string) : null;
    const subject = text(s.idClaim);
    if (!subject)
      throw new ServiceError('unauthorized', `the ID token has no ${s.idClaim} claim (identity.oidc.idClaim)`, { check: 'claims' });
    const rawEmail = text(s.emailClaim);
    // An address the provider says is unverified stands for nobody.
    const email = rawEmail && claims.email_verified !== false ? rawEmail.toLowerCase() : null;
    const rawGroups = claims[s.groupsClaim];
    const groups = (Array.isArray(rawGroups) ? rawGroups : typeof rawGroups === 'string' ? [rawGroups] : [])
      .filter((g): g is string => typeof g === 'string')
      .slice(0, 500);
    const roles = ROLES.filter((role) =>
      (s.roles[role] ?? []).some(
        (entry) => groups.includes(entry) || (email !== null && entry.includes('@') && entry.toLowerCase() === email),
      ),
    );
    return {
      subject,
      person: personKey(email ?? subject),
      name: text(s.nameClaim) ?? email ?? subject,
      email,
      groups,
      roles,
      refreshToken,
    };
  }
}

function signInRefusal(err: unknown): ServiceError {
  const e = err as { code?: string; message?: string; error?: string };
  const message = e.message ?? String(err);
  if (e.error === 'invalid_grant') {
    return new ServiceError(
      'unauthorized',
      'the identity provider refused the authorization code (used already, expired, or not for this sign-in)',
      { check: 'code' },
    );
  }
  // oauth4webapi names the failing claim on the error's cause, or on that cause's cause.
  const cause = (err as { cause?: { claim?: unknown; cause?: { claim?: unknown } } }).cause;
  const claim = cause?.claim ?? cause?.cause?.claim;
  if (claim === 'nonce' || /nonce/i.test(message))
    return new ServiceError('unauthorized', 'nonce mismatch: the ID token was not issued for this sign-in', { check: 'nonce' });
  if (/state/i.test(message)) return new ServiceError('unauthorized', 'state mismatch', { check: 'state' });
  const which = typeof claim === 'string' ? ` (${claim})` : '';
  return new ServiceError('unauthorized', `the identity provider's answer did not verify: ${message.slice(0, 200)}${which}`, {
    check: 'id_token',
  });
}
