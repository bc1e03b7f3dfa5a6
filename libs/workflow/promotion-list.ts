import { In, type DataSource, type SelectQueryBuilder } from 'typeorm';
import { hasRole, personOf, type Principal } from '#libs/auth/index.js';
import type { AppConfig } from '#libs/config/index.js';
import { ApprovalEntity, PromotionEntity, ReviewEntity } from '#libs/db/index.js';
import { isPromotionStatus, openDecisions, personKey, ServiceError } from '#libs/domain/index.js';
import { InvalidReferenceError, isDigest, parseReference } from '#libs/registry/index.js';
import { decodeCursor, encodeCursor, type Page } from './cursor.js';
import { approvalRule } from './promotion-state.service.js';
import { promotionSummary } from './promotion.view.js';

export interface PromotionFilter {
  status?: string;
  target?: string;
  app?: string;
  image?: string;
  /** A person's name or principal id, or `me`. */
  requestedBy?: string;
  /** Only `me`: promotions awaiting a decision the caller may still give. */
  awaitingDecisionBy?: 'me';
  from?: Date;
  to?: Date;
  cursor?: string;
  limit: number;
}

type Summary = ReturnType<typeof promotionSummary>;

/** A credential's id, as recorded in requested_by: `token:<uuid>`, `session:<uuid>`, `oidc:…`, `slack:…`, `bootstrap`. */
const CREDENTIAL_ID = /^(token|session|oidc|slack):|^bootstrap$/;

/** The open promotions an `awaitingDecisionBy` query reads per round; each is tallied in memory. */
const BATCH = 200;
/** An unknown app is answered with the known ones, at most this many. */
const MAX_APPS_LISTED = 100;

/** `GET /promotions`: newest first, by seq cursor, under every filter given. */
export async function listPromotions(
  dataSource: DataSource,
  config: AppConfig,
  who: Principal,
  filter: PromotionFilter,
): Promise<Page<Summary>> {
  const qb = dataSource.getRepository(PromotionEntity).createQueryBuilder('p');
  applyFilters(qb, config, who, filter);
  if (filter.cursor !== undefined) qb.andWhere('p.seq < :seq', { seq: decodeCursor(filter.cursor) });
  qb.orderBy('p.seq', 'DESC');
  const rows = filter.awaitingDecisionBy
    ? await awaitingMe(dataSource, config, who, qb, filter.limit + 1)
    : await qb.limit(filter.limit + 1).getMany();
  if (rows.length === 0 && filter.app !== undefined) await checkApp(dataSource, filter.app);
  const items = rows.slice(0, filter.limit);
  const more = rows.length > filter.limit;
  return { items: items.map(promotionSummary), nextCursor: more ? encodeCursor(items.at(-1)!.seq) : null };
}

function applyFilters(qb: SelectQueryBuilder<PromotionEntity>, config: AppConfig, who: Principal, filter: PromotionFilter): void {
  if (filter.status !== undefined) {
    const statuses = filter.status.split(',');
    const bad = statuses.find((s) => !isPromotionStatus(s));
    if (bad !== undefined) throw new ServiceError('bad_request', `status: '${bad}' is not a promotion status`, { field: 'status' });
    qb.andWhere('p.status IN (:...statuses)', { statuses });
  }
  if (filter.target !== undefined) {
    checkTarget(config, filter.target);
    qb.andWhere('p.target = :target', { target: filter.target });
  }
  if (filter.app !== undefined) qb.andWhere('p.app = :app', { app: filter.app });
  if (filter.requestedBy !== undefined) {
    // A person (or workload principal), whatever the credential: every token, session and Slack
    // user acting for them; also matched by a credential's display name. A credential id
    // (`token:<uuid>`, `oidc:github:acme/web`, …) means that one credential.
    const requester = filter.requestedBy === 'me' ? personOf(who) : filter.requestedBy;
    if (filter.requestedBy !== 'me' && CREDENTIAL_ID.test(requester)) qb.andWhere('p.requested_by = :requester', { requester });
    else if (filter.requestedBy === 'me') qb.andWhere('p.requested_by_person = :requester', { requester });
    else qb.andWhere('(p.requested_by_person = :person OR p.requested_by_name = :requester)', { person: personKey(requester), requester });
  }
  if (filter.from !== undefined) qb.andWhere('p.created_at >= :from', { from: filter.from });
  if (filter.to !== undefined) qb.andWhere('p.created_at < :to', { to: filter.to });
  if (filter.from !== undefined && filter.to !== undefined && filter.from >= filter.to) {
    throw new ServiceError('bad_request', 'from: must be before to', { field: 'from' });
  }
  if (filter.image !== undefined) {
    if (isDigest(filter.image)) qb.andWhere('p.digest = :digest', { digest: filter.image });
    else {
      const ref = parseImage(filter.image);
      if (ref.digest === null)
        throw new ServiceError('bad_request', 'image: filter by digest (sha256:…) or registry/repository@sha256:…', { field: 'image' });
      qb.andWhere('p.digest = :digest AND p.repository = :repo', { digest: ref.digest, repo: `${ref.registry}/${ref.repository}` });
    }
  }
  if (filter.awaitingDecisionBy !== undefined) qb.andWhere('p.status = :awaiting', { awaiting: 'awaiting_approval' });
}

/** A misspelt environment is a mistake worth naming, not an empty list. */
function checkTarget(config: AppConfig, target: string): void {
  const targets = config.pipeline.environments.filter((e) => e.from !== null).map((e) => e.name);
  if (targets.includes(target)) return;
  const entry = config.environment(target);
  const message = entry
    ? `target: '${target}' is the pipeline's entry: nothing is promoted into it`
    : `target: unknown environment '${target}'`;
  throw new ServiceError('unprocessable', message, { field: 'target', valid: targets });
}

/** Apps are not configured: the known ones are those promotions were made for. Asked only when nothing matched. */
async function checkApp(dataSource: DataSource, app: string): Promise<void> {
  const known: { app: string }[] = await dataSource.query(`SELECT DISTINCT app FROM promotions ORDER BY app LIMIT ${MAX_APPS_LISTED + 1}`);
  const apps = known.map((r) => r.app);
  if (apps.includes(app)) return;
  const valid = apps.slice(0, MAX_APPS_LISTED);
  const more = apps.length > MAX_APPS_LISTED ? ', …' : '';
  throw new ServiceError('unprocessable', `app: no promotion was ever made for '${app}' (known: ${valid.join(', ') || 'none'}${more})`, {
    field: 'app',
    valid,
  });
}

/**
 * Promotions awaiting approval on which the caller may still give a decision, by the approval
 * rule itself: reads the open promotions in batches, newest first, and tallies each.
 */
async function awaitingMe(
  dataSource: DataSource,
  config: AppConfig,
  who: Principal,
  qb: SelectQueryBuilder<PromotionEntity>,
  wanted: number,
): Promise<PromotionEntity[]> {
  const found: PromotionEntity[] = [];
  const person = { id: personOf(who), roles: who.roles, mayReview: hasRole(who, ['security-reviewer']) };
  for (let offset = 0; found.length < wanted; offset += BATCH) {
    const batch = await qb.clone().offset(offset).limit(BATCH).getMany();
    if (batch.length === 0) break;
    const ids = batch.map((p) => p.id);
    const [approvals, reviews] = await Promise.all([
      dataSource.manager.find(ApprovalEntity, { where: { promotionId: In(ids) } }),
      dataSource.manager.find(ReviewEntity, { where: { promotionId: In(ids) } }),
    ]);
    for (const promotion of batch) {
      const env = config.environment(promotion.target);
      if (!env) continue;
      const bound = { digest: promotion.digest, evidenceDigest: promotion.evidenceDigest ?? '', now: new Date() };
      const open = openDecisions(
        approvalRule(env),
        promotion.requestedByPerson,
        person,
        approvals
          .filter((a) => a.promotionId === promotion.id)
          .map((a) => ({
            approverId: a.approverPerson,
            decision: a.decision,
            digest: a.digest,
            evidenceDigest: a.evidenceDigest,
            at: a.createdAt,
          })),
        reviews
          .filter((r) => r.promotionId === promotion.id)
          .map((r) => ({
            reviewerId: r.reviewerPerson,
            kind: r.kind,
            verdict: r.verdict,
            digest: r.digest,
            evidenceDigest: r.evidenceDigest,
            at: r.createdAt,
          })),
        bound,
      );
      if (open.approve || open.reviews.length > 0) found.push(promotion);
      if (found.length >= wanted) break;
    }
    if (batch.length < BATCH) break;
  }
  return found;
}

function parseImage(text: string) {
  try {
    return parseReference(text);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new ServiceError('bad_request', `image: ${err.message}`, { field: 'image' });
    throw err;
  }
}
