import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Principal } from '#libs/auth/index.js';
import { AppConfig } from '#libs/config/index.js';
import { ServiceError } from '#libs/domain/index.js';
import type { VexJustification, VexStatus, WaiverRule, WaiverScope } from '#libs/scanning/index.js';
import { AuditService } from '../audit.service.js';

export interface WaiverInput {
  vulnerabilityId: string;
  scope: WaiverScope;
  justification: string;
  expiresAt: Date;
  vex?: { status: VexStatus; justification?: VexJustification | undefined } | undefined;
}

export interface WaiverView {
  id: string;
  vulnerabilityId: string;
  scope: WaiverScope;
  justification: string;
  vex: { status: VexStatus; justification: VexJustification | null } | null;
  expiresAt: string;
  createdBy: { id: string; name: string };
  createdAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
  /** Not revoked and not expired: it counts in gates now. */
  active: boolean;
}

/**
 * Vulnerability waivers: a security reviewer accepts one vulnerability for one digest, one
 * repository or everything, until a date no further than `scanning.maxWaiver` ahead. Every change
 * is audited in the transaction that makes it; expired or revoked waivers stop counting.
 */
@Injectable()
export class WaiverService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
  ) {}

  async create(who: Principal, input: WaiverInput, now = new Date()): Promise<WaiverView> {
    const maxMs = this.config.pipeline.scanning.maxWaiverMs;
    if (input.expiresAt.getTime() <= now.getTime()) throw new ServiceError('bad_request', 'expiresAt: must be in the future');
    if (input.expiresAt.getTime() > now.getTime() + maxMs) {
      throw new ServiceError(
        'bad_request',
        `expiresAt: at most ${new Date(now.getTime() + maxMs).toISOString()} (scanning.maxWaiver is ${maxMs / 86_400_000} days)`,
      );
    }
    const id = randomUUID();
    const [kind, value] =
      'all' in input.scope
        ? ['all', null]
        : 'digest' in input.scope
          ? ['digest', input.scope.digest]
          : ['repository', input.scope.repository];
    return this.audit.transaction(async (manager) => {
      const rows = await manager.query(
        `INSERT INTO waivers (id, vulnerability_id, scope_kind, scope_value, justification, vex_status, vex_justification, expires_at, created_by, created_by_name, created_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING *`,
        [
          id,
          input.vulnerabilityId,
          kind,
          value,
          input.justification,
          input.vex?.status ?? null,
          input.vex?.justification ?? null,
          input.expiresAt,
          who.id,
          who.name,
          now,
        ],
      );
      const view = waiverView(rows[0], now);
      await this.audit.append(manager, who, {
        action: 'waiver.created',
        subject: `waiver:${id}`,
        data: {
          vulnerabilityId: view.vulnerabilityId,
          scope: view.scope,
          justification: view.justification,
          vex: view.vex,
          expiresAt: view.expiresAt,
        },
      });
      return view;
    });
  }

  async list(filter: { active?: boolean; vulnerabilityId?: string } = {}, now = new Date()): Promise<WaiverView[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.vulnerabilityId) {
      params.push(filter.vulnerabilityId);
      where.push(`vulnerability_id = $${params.length}`);
    }
    if (filter.active !== undefined) {
      params.push(now);
      where.push(
        filter.active
          ? `revoked_at IS NULL AND expires_at > $${params.length}`
          : `(revoked_at IS NOT NULL OR expires_at <= $${params.length})`,
      );
    }
    const rows = await this.dataSource.query(
      `SELECT * FROM waivers ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id LIMIT 1000`,
      params,
    );
    return rows.map((r: unknown) => waiverView(r, now));
  }

  async revoke(who: Principal, id: string, now = new Date()): Promise<WaiverView> {
    return this.audit.transaction(async (manager) => {
      const rows = await manager.query('SELECT * FROM waivers WHERE id = $1 FOR UPDATE', [id]);
      if (rows.length === 0) throw new ServiceError('not_found', `no waiver ${id}`);
      if (rows[0].revoked_at)
        throw new ServiceError('conflict', `waiver ${id} was already revoked at ${new Date(rows[0].revoked_at).toISOString()}`);
      const updated = await manager.query('UPDATE waivers SET revoked_at = $2, revoked_by = $3 WHERE id = $1 RETURNING *', [
        id,
        now,
        who.id,
      ]);
      const view = waiverView(updated[0][0] ?? updated[0], now);
      await this.audit.append(manager, who, {
        action: 'waiver.revoked',
        subject: `waiver:${id}`,
        data: { vulnerabilityId: view.vulnerabilityId, scope: view.scope },
      });
      return view;
    });
  }

  /** Waivers that count at `now`, for the given vulnerability ids (a finding's id and aliases). */
  async activeFor(ids: readonly string[], now = new Date()): Promise<WaiverRule[]> {
    if (ids.length === 0) return [];
    const rows = await this.dataSource.query(
      'SELECT * FROM waivers WHERE revoked_at IS NULL AND expires_at > $1 AND vulnerability_id = ANY($2::text[]) ORDER BY created_at, id',
      [now, [...new Set(ids)]],
    );
    return rows.map((r: unknown) => waiverRule(r));
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a pg row
function scopeOf(r: any): WaiverScope {
  return r.scope_kind === 'all' ? { all: true } : r.scope_kind === 'digest' ? { digest: r.scope_value } : { repository: r.scope_value };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a pg row
function waiverRule(r: any): WaiverRule {
  return {
    id: r.id,
    vulnerabilityId: r.vulnerability_id,
    scope: scopeOf(r),
    justification: r.justification,
    expiresAt: new Date(r.expires_at),
    vexStatus: r.vex_status,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a pg row
function waiverView(r: any, now: Date): WaiverView {
  const expiresAt = new Date(r.expires_at);
  return {
    id: r.id,
    vulnerabilityId: r.vulnerability_id,
    scope: scopeOf(r),
    justification: r.justification,
    vex: r.vex_status ? { status: r.vex_status, justification: r.vex_justification } : null,
    expiresAt: expiresAt.toISOString(),
    createdBy: { id: r.created_by, name: r.created_by_name },
    createdAt: new Date(r.created_at).toISOString(),
    revokedAt: r.revoked_at ? new Date(r.revoked_at).toISOString() : null,
    revokedBy: r.revoked_by,
    active: !r.revoked_at && expiresAt.getTime() > now.getTime(),
  };
}
