import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AppConfig } from '#libs/config/index.js';
import { ApiTokenEntity, uniqueViolation } from '#libs/db/index.js';
import { personKey, ServiceError, type Role } from '#libs/domain/index.js';
import type { Principal } from './principal.js';
import { generateToken, hashToken, secretsEqual } from './token-secret.js';

export interface CreatedToken {
  id: string;
  name: string;
  roles: Role[];
  owner: string;
  kind: 'person' | 'workload';
  token: string;
  createdAt: string;
  expiresAt: string;
}

export interface NewToken {
  name: string;
  roles: Role[];
  /** A person's id or e-mail, or a workload's name; default: the token's name. */
  owner?: string;
  kind?: 'person' | 'workload';
  /** Default: now + identity.tokens.defaultExpiry; never past now + maxExpiry. */
  expiresAt?: Date;
}

/** A token as listed: never its secret or hash. */
export interface TokenInfo {
  id: string;
  name: string;
  roles: Role[];
  owner: string;
  kind: 'person' | 'workload';
  createdBy: string;
  createdAt: string;
  /** null only for tokens made before tokens expired. */
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

/** Why a bearer was refused, said in the 401. */
export type TokenRefusal = 'unknown' | 'revoked' | 'expired';

export interface TokenAppender {
  /** Records the change in the audit log inside the same transaction. */
  (manager: EntityManager, actor: Principal, token: ApiTokenEntity): Promise<void>;
}

/** How long a process trusts a token it has looked up: a revocation reaches other processes within this. */
export const TOKEN_CACHE_TTL_MS = 10_000;
const CACHE_TTL_MS = TOKEN_CACHE_TTL_MS;
const CACHE_MAX = 10_000;

/**
 * API tokens: random secrets shown once, stored as sha256 hashes. The bootstrap token from
 * PROMOTER_BOOTSTRAP_TOKEN is an admin accepted only until a real admin token exists.
 */
@Injectable()
export class TokenService {
  private readonly cache = new Map<string, { principal: Principal; until: number }>();
  private adminExists = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  async authenticate(bearer: string): Promise<Principal | null> {
    const result = await this.check(bearer);
    return 'principal' in result ? result.principal : null;
  }

  /** The token's principal, or why it is refused (unknown, revoked, expired). */
  async check(bearer: string): Promise<{ principal: Principal } | { refused: TokenRefusal }> {
    const bootstrap = this.config.process.bootstrapToken;
    if (bootstrap !== null && secretsEqual(bearer, bootstrap)) {
      return (await this.bootstrapAllowed())
        ? {
            principal: {
              id: 'bootstrap',
              name: 'bootstrap',
              roles: ['admin'],
              kind: 'person',
              person: 'bootstrap',
              credential: 'bootstrap',
            },
          }
        : { refused: 'unknown' };
    }
    const hash = hashToken(bearer);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return { principal: hit.principal };
    const row = await this.dataSource.getRepository(ApiTokenEntity).findOneBy({ tokenHash: hash });
    if (!row) return { refused: 'unknown' };
    if (row.revokedAt !== null) return { refused: 'revoked' };
    if (row.expiresAt !== null && row.expiresAt.getTime() <= now) return { refused: 'expired' };
    const principal: Principal = {
      id: `token:${row.id}`,
      name: row.name,
      roles: row.roles as Role[],
      kind: row.kind,
      person: personKey(row.owner),
      credential: 'token',
    };
    // Recorded at most once a minute per token: a busy CI token must not write on every request.
    await this.dataSource.query(
      `UPDATE api_tokens SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
      [row.id],
    );
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(hash, { principal, until: Math.min(now + CACHE_TTL_MS, row.expiresAt?.getTime() ?? Infinity) });
    return { principal };
  }

  async create(actor: Principal, input: NewToken, audit: TokenAppender): Promise<CreatedToken> {
    const { name, roles } = input;
    const limits = this.config.pipeline.identity.tokens;
    const now = new Date();
    const expiresAt = input.expiresAt ?? new Date(now.getTime() + limits.defaultExpiry);
    if (expiresAt.getTime() <= now.getTime())
      throw new ServiceError('bad_request', 'expiresAt must be in the future', { field: 'expiresAt' });
    if (expiresAt.getTime() > now.getTime() + limits.maxExpiry) {
      const max = new Date(now.getTime() + limits.maxExpiry).toISOString();
      throw new ServiceError('bad_request', `expiresAt is past the longest a token may live (identity.tokens.maxExpiry: until ${max})`, {
        field: 'expiresAt',
        max,
      });
    }
    const token = generateToken();
    const row = Object.assign(new ApiTokenEntity(), {
      id: randomUUID(),
      name,
      roles: [...new Set(roles)],
      owner: input.owner?.trim() || name,
      kind: input.kind ?? 'person',
      expiresAt,
      lastUsedAt: null,
      tokenHash: hashToken(token),
      createdBy: actor.id,
      createdAt: now,
    });
    try {
      await this.dataSource.transaction(async (manager) => {
        await manager.insert(ApiTokenEntity, row);
        await audit(manager, actor, row);
      });
    } catch (err) {
      if (uniqueViolation(err) !== null) throw new ServiceError('conflict', `a token named '${name}' already exists`);
      throw err;
    }
    return {
      id: row.id,
      name: row.name,
      roles: row.roles as Role[],
      owner: row.owner,
      kind: row.kind,
      token,
      createdAt: row.createdAt.toISOString(),
      expiresAt: expiresAt.toISOString(),
    };
  }

  async list(): Promise<TokenInfo[]> {
    const rows = await this.dataSource.getRepository(ApiTokenEntity).find({ order: { createdAt: 'ASC', name: 'ASC' } });
    return rows.map(info);
  }

  /**
   * Revokes a token for good. The last token that can administer the service is kept (revoking it
   * would leave no way to create tokens); a token already revoked stays as it was.
   */
  async revoke(actor: Principal, id: string, audit: TokenAppender): Promise<TokenInfo> {
    const row = await this.dataSource.transaction(async (manager) => {
      // Locks every active admin row too, so two admins revoking each other cannot both succeed.
      const admins = await manager
        .getRepository(ApiTokenEntity)
        .createQueryBuilder('t')
        .setLock('pessimistic_write')
        .where(`'admin' = ANY(t.roles) AND t.revoked_at IS NULL`)
        .getMany();
      const token = await manager.findOne(ApiTokenEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!token) throw new ServiceError('not_found', `no token with id ${id}`);
      if (token.revokedAt !== null) return token;
      if (token.roles.includes('admin') && admins.length === 1 && admins[0]!.id === token.id) {
        throw new ServiceError('conflict', `'${token.name}' is the last admin token; create another admin token before revoking it`);
      }
      token.revokedAt = new Date();
      token.revokedBy = actor.id;
      await manager.update(ApiTokenEntity, { id }, { revokedAt: token.revokedAt, revokedBy: token.revokedBy });
      await audit(manager, actor, token);
      return token;
    });
    for (const [hash, entry] of this.cache) if (entry.principal.id === `token:${row.id}`) this.cache.delete(hash);
    return info(row);
  }

  private async bootstrapAllowed(): Promise<boolean> {
    if (this.adminExists) return false;
    const [{ exists }] = await this.dataSource.query(`SELECT EXISTS (SELECT 1 FROM api_tokens WHERE 'admin' = ANY(roles)) AS exists`);
    this.adminExists = exists === true;
    return !this.adminExists;
  }
}

function info(row: ApiTokenEntity): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    roles: row.roles as Role[],
    owner: row.owner,
    kind: row.kind,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    revokedBy: row.revokedBy ?? null,
  };
}
