import type { EntityManager } from 'typeorm';
import { ApprovalEntity, GateResultEntity, PromotionEntity, ReviewEntity } from '#libs/db/index.js';
import { progressFromRow } from './copy-progress.js';
import type { PromotionRecord } from './promotion-state.service.js';

/** Reads a promotion with its gate results, approvals and reviews in one query (the API's hot read). */
export async function readPromotion(manager: EntityManager, id: string): Promise<PromotionRecord | null> {
  const rows: { p: Json; gates: Json[]; approvals: Json[]; reviews: Json[]; progress: Json | null }[] = await manager.query(
    `SELECT row_to_json(p) AS p,
            (SELECT coalesce(json_agg(g ORDER BY g.gate), '[]') FROM gate_results g WHERE g.promotion_id = p.id) AS gates,
            (SELECT coalesce(json_agg(a ORDER BY a.created_at), '[]') FROM approvals a WHERE a.promotion_id = p.id) AS approvals,
            (SELECT coalesce(json_agg(r ORDER BY r.created_at), '[]') FROM reviews r WHERE r.promotion_id = p.id) AS reviews,
            (SELECT row_to_json(pp) FROM promotion_progress pp WHERE pp.promotion_id = p.id) AS progress
       FROM promotions p WHERE p.id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    promotion: toEntity(PromotionEntity, row.p),
    gates: row.gates.map((g) => toEntity(GateResultEntity, g)),
    approvals: row.approvals.map((a) => toEntity(ApprovalEntity, a)),
    reviews: row.reviews.map((r) => toEntity(ReviewEntity, r)),
    progress: progressFromRow(row.progress),
  };
}

type Json = Record<string, unknown>;
const DATE_COLUMNS = new Set(['created_at', 'updated_at', 'expires_at']);

/** snake_case JSON row → entity, with timestamps as Dates and bigints as strings (as TypeORM gives them). */
function toEntity<T extends object>(ctor: new () => T, json: Json): T {
  const entity = new ctor();
  for (const [column, value] of Object.entries(json)) {
    const key = column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    (entity as Json)[key] =
      DATE_COLUMNS.has(column) && typeof value === 'string' ? new Date(value) : column === 'seq' ? String(value) : value;
  }
  return entity;
}
