import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { ServiceError } from '#libs/domain/index.js';
import { secureUrlProblem } from '#libs/config/index.js';
import { fetchIdentityJson } from './bounded-fetch.js';

export interface JwksCacheOptions {
  /** Keys older than this are refetched before use; if the issuer is down, the old keys serve. */
  maxAgeMs?: number;
  /** At most one refetch for an unknown `kid` this often, so forged kids cannot hammer the issuer. */
  cooldownMs?: number;
}

/**
 * One issuer's signing keys, found through its discovery document. Keys are cached; an unknown
 * `kid` refetches them (key rotation), and while the issuer is unreachable the cached keys still
 * verify tokens.
 */
export class JwksCache {
  private keys: ReturnType<typeof createLocalJWKSet> | null = null;
  private fetchedAt = 0;
  private attemptedAt = 0;
  private pending: Promise<void> | null = null;
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;

  constructor(
    readonly issuer: string,
    options: JwksCacheOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.cooldownMs = options.cooldownMs ?? 10_000;
  }

  async verify(token: string, options: JWTVerifyOptions): Promise<JWTPayload> {
    await this.ensureKeys();
    try {
      return (await jwtVerify(token, this.keys!, options)).payload;
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || Date.now() - this.attemptedAt < this.cooldownMs) throw err;
      await this.refresh().catch(() => undefined);
      return (await jwtVerify(token, this.keys!, options)).payload;
    }
  }

  private async ensureKeys(): Promise<void> {
    if (this.keys === null) {
      await this.refresh();
      return;
    }
    if (Date.now() - this.fetchedAt > this.maxAgeMs && Date.now() - this.attemptedAt >= this.cooldownMs) {
      // Stale keys still verify if the issuer cannot be reached.
      await this.refresh().catch(() => undefined);
    }
  }

  private refresh(): Promise<void> {
    this.pending ??= this.load().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async load(): Promise<void> {
    this.attemptedAt = Date.now();
    const base = this.issuer.replace(/\/$/, '');
    const discovery = await fetchIdentityJson(`${base}/.well-known/openid-configuration`, 'the discovery document');
    const doc = discovery as { issuer?: unknown; jwks_uri?: unknown };
    if (typeof doc.issuer !== 'string' || doc.issuer.replace(/\/$/, '') !== base) {
      throw new ServiceError('bad_gateway', `the discovery document of ${this.issuer} names another issuer`);
    }
    if (typeof doc.jwks_uri !== 'string') throw new ServiceError('bad_gateway', `the discovery document of ${this.issuer} has no jwks_uri`);
    const problem = secureUrlProblem(doc.jwks_uri);
    if (problem) throw new ServiceError('bad_gateway', `jwks_uri ${doc.jwks_uri}: ${problem}`);
    const jwks = (await fetchIdentityJson(doc.jwks_uri, 'the key set')) as JSONWebKeySet;
    if (!jwks || !Array.isArray(jwks.keys)) throw new ServiceError('bad_gateway', `${doc.jwks_uri} is not a JSON Web Key Set`);
    // Symmetric keys in a published key set would let anyone who reads it sign: never use them.
    const keys = jwks.keys.filter((k) => k && typeof k === 'object' && k.kty !== 'oct').slice(0, 100);
    this.keys = createLocalJWKSet({ keys });
    this.fetchedAt = Date.now();
  }
}
