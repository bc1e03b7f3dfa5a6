import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
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

export interface TokenAppender {
  /** Records the creation in the audit log inside the same transaction. */
  (manager: import('typeorm').EntityManager, actor: Principal, token: ApiTokenEntity): Promise<void>;
}

const CACHE_TTL_MS = 10_000;
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
    const row = await this.dataSource.getRepository(ApiTokenEntity).findOneBy({ tokenHash: hash });
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

  private async bootstrapAllowed(): Promise<boolean> {
    if (this.adminExists) return false;
    const [{ exists }] = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM api_tokens WHERE 'admin' = ANY(roles)) AS exists`,
    );
    this.adminExists = exists === true;
    return !this.adminExists;
  }
}
