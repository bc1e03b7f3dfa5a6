import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { personOf, type Principal } from '#libs/auth/index.js';
import { AppConfig, GATE_TYPES, type GateType } from '#libs/config/index.js';
import { GateResultEntity, insertPromotion, PromotionEntity, uniqueViolation } from '#libs/db/index.js';
import { canonicalJson, ROLE_SETS, ServiceError, sha256Hex, type PromotionStatus } from '#libs/domain/index.js';
import { InvalidReferenceError, isRegistryError, parseReference, RegistryClient, type ImageReference } from '#libs/registry/index.js';
import { AuditService } from './audit.service.js';
import type { Page } from './cursor.js';
import { EnvironmentResolver } from './environment-resolver.js';
import { FollowUpService } from './follow-up.service.js';
import { listPromotions, type PromotionFilter } from './promotion-list.js';
import { readPromotion } from './promotion-reader.js';
import { approvalRule, PromotionStateService } from './promotion-state.service.js';
import { promotionSummary, promotionView, type PromotionView } from './promotion.view.js';

/** A tag lookup is on the request path: bounded, so a slow registry cannot hold the request. */
const RESOLVE_TIMEOUT_MS = 10_000;

export interface PromotionRequest {
  image: string;
  target: string;
  reason: string;
}

export interface RequestOutcome {
  created: boolean;
  promotion: PromotionView;
}

@Injectable()
export class PromotionService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly resolver: EnvironmentResolver,
    private readonly state: PromotionStateService,
    private readonly followUp: FollowUpService,
    private readonly audit: AuditService,
    private readonly registry: RegistryClient,
  ) {}

  /**
   * Same Idempotency-Key and body: the promotion made the first time (200). Same key, other body: 409.
   * The key is looked up only when the request cannot be made as new, so new requests cost no extra query.
   */
  async request(who: Principal, body: PromotionRequest, idempotencyKey: string | null): Promise<RequestOutcome> {
    const requestHash = sha256Hex(canonicalJson(body));
    try {
      return await this.create(who, body, idempotencyKey, requestHash);
    } catch (err) {
      if (idempotencyKey !== null && (err instanceof ServiceError || uniqueViolation(err) === 'promotions_idempotency')) {
        const replay = await this.replay(who, idempotencyKey, requestHash);
        if (replay) return replay;
      }
      throw err;
    }
  }

  private async create(
    who: Principal,
    body: PromotionRequest,
    idempotencyKey: string | null,
    requestHash: string,
  ): Promise<RequestOutcome> {
    const named = parseImage(body.image);
    const target = this.config.environment(body.target);
    if (!target) {
      throw new ServiceError('unprocessable', `unknown environment '${body.target}'`, {
        field: 'target',
        environments: this.config.pipeline.environments.map((e) => e.name),
      });
    }
    const { environment: source, app } = this.resolver.locate(named);
    if (target.from !== source.name) {
      throw new ServiceError(
        'unprocessable',
        target.from === null
          ? `'${target.name}' is the pipeline's entry: images arrive there from CI, not by promotion`
          : `'${target.name}' is promoted from '${target.from}', and this image is in '${source.name}'`,
        { field: 'target', source: source.name, from: target.from },
      );
    }

    if (who.limits) checkLimits(who, app, target.name);

    // Only a request that makes sense is worth a question to the registry.
    const ref = await this.pinned(named);
    const gates = GATE_TYPES.filter((g) => target.gates[g] !== undefined);
    const now = new Date();
    const promotion = Object.assign(new PromotionEntity(), {
      id: randomUUID(),
      image: `${ref.registry}/${ref.repository}@${ref.digest}`,
      repository: `${ref.registry}/${ref.repository}`,
      digest: ref.digest!,
      app,
      source: source.name,
      target: target.name,
      targetRepository: this.resolver.repositoryOf(target, app),
      targetTag: ref.tag,
      status: 'pending',
      reason: body.reason,
      requestedBy: who.id,
      requestedByName: who.name,
      requestedByPerson: personOf(who),
      idempotencyKey,
      requestHash,
      round: 1,
      evidenceDigest: null,
      expiresAt: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
    } satisfies Omit<PromotionEntity, 'seq'>);

    let view: PromotionView;
    try {
      view = await this.audit.transaction(async (manager) => {
        if (source.from !== null) await this.requirePromotedInto(manager, promotion.digest, source.name);
        await this.audit.append(manager, who, {
          action: 'promotion.requested',
          subject: `promotion:${promotion.id}`,
          data: { image: promotion.image, digest: promotion.digest, source: source.name, target: target.name, reason: body.reason, gates },
        });
        // A new promotion has no decisions yet: settle it in hand, then write it once.
        const gateRows = this.pendingGates(promotion, gates);
        const record = { promotion, gates: gateRows, approvals: [], reviews: [] };
        if (gates.length === 0) await this.state.settle(manager, promotion, who, record, { unsaved: true });
        await insertPromotion(manager, promotion);
        if (gateRows.length > 0) await manager.insert(GateResultEntity, gateRows);
        return promotionView(record, this.state.tally(record), approvalRule(target));
      });
    } catch (err) {
      if (uniqueViolation(err) === 'promotions_one_live') throw await this.alreadyLive(promotion.digest, target.name);
      throw err;
    }
    await this.followUp.after(promotion, gates);
    return { created: true, promotion: view };
  }

  /**
   * A tag is resolved to a digest once, here; everything after works on the digest, so moving the
   * tag later changes nothing. Only registries named in the pipeline are asked (no request otherwise).
   * The policy dry run resolves its image the same way.
   */
  async pinned(ref: ImageReference): Promise<ImageReference & { digest: string }> {
    // Docker's rule: a reference with neither tag nor digest means `latest`.
    const tag = ref.digest === null ? (ref.tag ?? 'latest') : null;
    const name = tag === null ? `${ref.registry}/${ref.repository}@${ref.digest}` : `${ref.registry}/${ref.repository}:${tag}`;
    if (!this.registry.knows(ref.registry)) {
      throw new ServiceError('unprocessable', `registry '${ref.registry}' is not one of the registries named in the pipeline file`, {
        field: 'image',
      });
    }
    try {
      if (tag === null) {
        // A digest is checked as a tag is resolved: accepting one the registry does not hold would
        // leave a promotion that can only fail, days later, at the copy.
        const found = await this.registry.headManifest(ref, ref.digest!, AbortSignal.timeout(RESOLVE_TIMEOUT_MS));
        if (found === null) throw new ServiceError('unprocessable', `image: '${name}' does not exist in the registry`, { field: 'image' });
        return { ...ref, digest: ref.digest! };
      }
      const { digest } = await this.registry.resolve({ ...ref, tag }, AbortSignal.timeout(RESOLVE_TIMEOUT_MS));
      return { ...ref, tag, digest };
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      if (timedOut)
        throw new ServiceError('unavailable', `image: could not resolve '${name}': the registry did not answer in time`, {
          field: 'image',
        });
      if (!isRegistryError(err)) throw err;
      if (err.code === 'not_found')
        throw new ServiceError('unprocessable', `image: '${name}' does not exist in the registry`, { field: 'image' });
      if (err.code === 'unavailable') {
        throw new ServiceError('unavailable', `image: could not resolve '${name}': the registry did not answer (${err.message})`, {
          field: 'image',
        });
      }
      throw new ServiceError('bad_gateway', `image: could not resolve '${name}': ${err.message}`, { field: 'image', code: err.code });
    }
  }

  async get(id: string): Promise<PromotionView> {
    const record = await readPromotion(this.dataSource.manager, id);
    if (!record) throw new ServiceError('not_found', `no promotion ${id}`);
    return promotionView(record, this.state.tally(record), approvalRule(this.state.environmentOf(record.promotion)));
  }

  list(who: Principal, filter: PromotionFilter): Promise<Page<ReturnType<typeof promotionSummary>>> {
    return listPromotions(this.dataSource, this.config, who, filter);
  }

  async cancel(who: Principal, id: string, reason: string): Promise<PromotionView> {
    return this.audit.transaction(async (manager) => {
      const promotion = await this.state.lock(manager, id);
      const mayCancelAny = who.roles.some((r) => (ROLE_SETS.cancelAny as readonly string[]).includes(r));
      if (!mayCancelAny && promotion.requestedByPerson !== personOf(who)) {
        throw new ServiceError('forbidden', 'only the requester, a release manager or an admin may cancel a promotion');
      }
      await this.state.move(manager, promotion, 'cancel', who, { reason });
      return this.view(manager, promotion);
    });
  }

  /** Runs the gates again (a new round); approvals survive only if the evidence comes out the same. */
  async reevaluate(who: Principal, id: string): Promise<PromotionView> {
    let gates: GateType[] = [];
    const view = await this.audit.transaction(async (manager) => {
      const promotion = await this.state.lock(manager, id);
      const env = this.state.environmentOf(promotion);
      gates = GATE_TYPES.filter((g) => env.gates[g] !== undefined);
      const round = promotion.round + 1;
      await this.state.move(manager, promotion, 'reevaluate', who, { round }, { round });
      await this.resetGates(manager, promotion, gates);
      if (gates.length === 0) await this.state.settle(manager, promotion, who);
      return this.view(manager, promotion);
    });
    await this.followUp.after(view, gates);
    return view;
  }

  async view(manager: EntityManager, promotion: PromotionEntity): Promise<PromotionView> {
    const record = await this.state.load(manager, promotion);
    return promotionView(record, this.state.tally(record), approvalRule(this.state.environmentOf(promotion)));
  }

  private pendingGates(promotion: PromotionEntity, gates: GateType[]): GateResultEntity[] {
    const now = new Date();
    return gates.map((gate) =>
      Object.assign(new GateResultEntity(), {
        promotionId: promotion.id,
        gate,
        round: promotion.round,
        status: 'pending',
        summary: 'waiting to be evaluated',
        evidence: {},
        evidenceDigest: null,
        updatedAt: now,
      }),
    );
  }

  private async resetGates(manager: EntityManager, promotion: PromotionEntity, gates: GateType[]): Promise<void> {
    if (gates.length > 0) await manager.upsert(GateResultEntity, this.pendingGates(promotion, gates), ['promotionId', 'gate']);
  }

  private async requirePromotedInto(manager: EntityManager, digest: string, environment: string): Promise<void> {
    const found = await manager.existsBy(PromotionEntity, { digest, target: environment, status: 'promoted' satisfies PromotionStatus });
    if (!found) {
      throw new ServiceError(
        'unprocessable',
        `${digest} has not been promoted into '${environment}' yet; it must pass through '${environment}' first`,
        {
          field: 'image',
          environment,
        },
      );
    }
  }

  private async replay(who: Principal, key: string, requestHash: string): Promise<RequestOutcome | null> {
    const manager = this.dataSource.manager;
    const existing = await manager.findOneBy(PromotionEntity, { requestedBy: who.id, idempotencyKey: key });
    if (!existing) return null;
    if (existing.requestHash !== requestHash) {
      throw new ServiceError('conflict', `Idempotency-Key '${key}' was already used with a different request`, {
        promotionId: existing.id,
      });
    }
    return { created: false, promotion: await this.view(manager, existing) };
  }

  private async alreadyLive(digest: string, target: string): Promise<ServiceError> {
    const live = await this.dataSource.getRepository(PromotionEntity).findOne({
      where: { digest, target },
      order: { seq: 'DESC' },
    });
    const what = live?.status === 'promoted' ? 'has already been promoted into' : 'already has an open promotion into';
    return new ServiceError('conflict', `${digest} ${what} '${target}'`, { promotionId: live?.id, status: live?.status });
  }
}

function parseImage(text: string, field = 'image') {
  let ref;
  try {
    ref = parseReference(text);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new ServiceError('bad_request', `${field}: ${err.message}`, { field });
    throw err;
  }
  return ref;
}

/** A federated CI identity may request only the apps and target environments its rule names. */
function checkLimits(who: Principal, app: string, target: string): void {
  const limits = who.limits!;
  if (!limits.apps.includes('*') && !limits.apps.includes(app)) {
    throw new ServiceError(
      'forbidden',
      `app not allowed: ${who.name} may request only ${limits.apps.join(', ') || '(no app)'}, not '${app}'`,
      {
        check: 'app',
        app,
        allowed: [...limits.apps],
      },
    );
  }
  if (!limits.environments.includes('*') && !limits.environments.includes(target)) {
    throw new ServiceError(
      'forbidden',
      `environment not allowed: ${who.name} may request only ${limits.environments.join(', ') || '(no environment)'}, not '${target}'`,
      {
        check: 'environment',
        environment: target,
        allowed: [...limits.environments],
      },
    );
  }
}
