import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, IsNull, type EntityManager } from 'typeorm';
import { AppConfig } from '../config/index.js';
import { ApiTokenEntity, uniqueViolation } from '../db/index.js';
import { ServiceError, type Role } from '../domain/index.js';
import type { Principal } from './principal.js';
import { generateToken, hashToken, secretsEqual } from './token-secret.js';

export interface CreatedToken {
  id: string;
  name: string;
  roles: Role[];
  token: string;
  createdAt: string;
}

/** A token as listed: never its secret or hash. */
export interface TokenInfo {
  id: string;
  name: string;
  roles: Role[];
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
}

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
    const bootstrap = this.config.process.bootstrapToken;
    if (bootstrap !== null && secretsEqual(bearer, bootstrap)) {
      return (await this.bootstrapAllowed()) ? { id: 'bootstrap', name: 'bootstrap', roles: ['admin'] } : null;
    }
    const hash = hashToken(bearer);
    const hit = this.cache.get(hash);
    if (hit && hit.until > Date.now()) return hit.principal;
    const row = await this.dataSource.getRepository(ApiTokenEntity).findOneBy({ tokenHash: hash, revokedAt: IsNull() });
    if (!row) return null;
    const principal: Principal = { id: `token:${row.id}`, name: row.name, roles: row.roles as Role[] };
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(hash, { principal, until: Date.now() + CACHE_TTL_MS });
    return principal;
  }

  async create(actor: Principal, name: string, roles: Role[], audit: TokenAppender): Promise<CreatedToken> {
    const token = generateToken();
    const row = Object.assign(new ApiTokenEntity(), {
      id: randomUUID(),
      name,
      roles: [...new Set(roles)],
      tokenHash: hashToken(token),
      createdBy: actor.id,
      createdAt: new Date(),
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
    return { id: row.id, name: row.name, roles: row.roles as Role[], token, createdAt: row.createdAt.toISOString() };
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
    const [{ exists }] = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM api_tokens WHERE 'admin' = ANY(roles)) AS exists`,
    );
    this.adminExists = exists === true;
    return !this.adminExists;
  }
}

function info(row: ApiTokenEntity): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    roles: row.roles as Role[],
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt?.toISOString() ?? null,
    revokedBy: row.revokedBy ?? null,
  };
}
