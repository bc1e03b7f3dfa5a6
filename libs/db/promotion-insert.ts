import type { EntityManager } from 'typeorm';
import type { PromotionEntity } from './entities/index.js';

const COLUMNS = [
  'id',
  'image',
  'repository',
  'digest',
  'app',
  'source',
  'target',
  'target_repository',
  'target_tag',
  'status',
  'reason',
  'requested_by',
  'requested_by_name',
  'requested_by_person',
  'idempotency_key',
  'request_hash',
  'round',
  'evidence_digest',
  'expires_at',
  'created_at',
  'updated_at',
] as const;
const SQL = `INSERT INTO promotions (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;

/** The request path's insert, as plain SQL: TypeORM's query builder costs more CPU than the database does here. */
export async function insertPromotion(manager: EntityManager, p: Omit<PromotionEntity, 'seq'>): Promise<void> {
  await manager.query(SQL, [
    p.id,
    p.image,
    p.repository,
    p.digest,
    p.app,
    p.source,
    p.target,
    p.targetRepository,
    p.targetTag,
    p.status,
    p.reason,
    p.requestedBy,
    p.requestedByName,
    p.requestedByPerson,
    p.idempotencyKey,
    p.requestHash,
    p.round,
    p.evidenceDigest,
    p.expiresAt,
    p.createdAt,
    p.updatedAt,
  ]);
}
