import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { DataSource, Not } from 'typeorm';
import type { Principal } from '#libs/auth/index.js';
import { AppConfig, policyOf } from '#libs/config/index.js';
import { GateResultEntity } from '#libs/db/index.js';
import { ServiceError } from '#libs/domain/index.js';
import { isImageFsError } from '#libs/imagefs/index.js';
import {
  buildFacts,
  evaluatePolicy,
  FactsError,
  gateFactsOf,
  PolicyEvaluator,
  type GateFacts,
  type ImageFacts,
  type PolicyEvaluation,
  type PolicySet,
  type PromotionFacts,
} from '#libs/policy/index.js';
import { InvalidReferenceError, isRegistryError, parseReference, RegistryClient } from '#libs/registry/index.js';
import { EnvironmentResolver } from './environment-resolver.js';
import type { GateContext, GateVerdict } from './gate.service.js';
import { PromotionService } from './promotion.service.js';

/** Layers, config and manifests of one image are read within this (a stuck registry ends the attempt). */
const FACTS_TIMEOUT_MS = 10 * 60_000;
const DRY_RUN_TIMEOUT_MS = 60_000;

export interface DryRunRequest {
  image: string;
  target: string;
  reason?: string;
}

export interface DryRunResult extends Omit<PolicyEvaluation, 'denied' | 'warnings'> {
  image: string;
  tag: string | null;
  target: string;
  facts: ImageFacts[];
}

/** The policy gate and its dry run: facts from the registry, the environment's rules, one bounded evaluator. */
@Injectable()
export class PolicyService implements OnModuleDestroy {
  private readonly evaluator = new PolicyEvaluator();

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly resolver: EnvironmentResolver,
    private readonly promotions: PromotionService,
    private readonly registry: RegistryClient,
  ) {}

  async onModuleDestroy(): Promise<void> {
    await this.evaluator.close();
  }

  /** The gate's verdict. Throws only when the registry may answer later (the job is retried). */
  async gate({ promotion, environment, image, signal }: GateContext): Promise<GateVerdict> {
    const policy = policyOf(environment.gates.policy);
    if (!policy)
      return { status: 'error', summary: `environment '${environment.name}' has no resolved policy`, evidence: { error: 'no policy' } };
    let facts: ImageFacts[];
    try {
      facts = await buildFacts(this.registryClient(), {
        ...image,
        tag: promotion.targetTag,
        promotion: { requester: promotion.requestedByName, source: promotion.source, target: promotion.target, reason: promotion.reason },
        gates: await this.otherGates(promotion.id, promotion.round),
        filesystem: needsFilesystem(policy),
        users: needsUsers(policy),
        signal: AbortSignal.any([AbortSignal.timeout(FACTS_TIMEOUT_MS), signal]),
        limits: this.config.pipeline.limits.image,
      });
    } catch (err) {
      // A registry that is unavailable or too slow may answer later: the job is retried.
      if ((isRegistryError(err) && err.retryable) || isTimeout(err)) throw err;
      const reason = factsProblem(err);
      return {
        status: 'error',
        summary: `the image's facts could not be read: ${reason}`,
        evidence: { policyDigest: policy.policyDigest, environment: environment.name, image: promotion.image, error: reason },
      };
    }
    const result = await evaluatePolicy(this.evaluator, policy, facts);
    return {
      status: result.status,
      summary: result.summary,
      evidence: {
        policyDigest: result.policyDigest,
        environment: environment.name,
        image: promotion.image,
        platforms: result.platforms,
        rules: result.rules,
        denied: result.denied.map((r) => ({ name: r.name, platform: r.platform })),
        warnings: result.warnings.map((r) => ({ name: r.name, platform: r.platform })),
      },
      // The rules in force and what each said on each platform: facts read in another round give the same.
      basis: { policyDigest: result.policyDigest, image: promotion.image, platforms: result.platforms, rules: result.rules },
    };
  }

  /** Runs the target environment's rules on an image: no promotion, no state written. */
  async dryRun(who: Principal, request: DryRunRequest): Promise<DryRunResult> {
    const target = this.config.environment(request.target);
    if (!target) {
      throw new ServiceError('unprocessable', `unknown environment '${request.target}'`, {
        field: 'target',
        environments: this.config.pipeline.environments.map((e) => e.name),
      });
    }
    const policy = policyOf(target.gates.policy);
    if (!policy) throw new ServiceError('unprocessable', `environment '${target.name}' has no policy gate`, { field: 'target' });
    let named;
    try {
      named = parseReference(request.image);
    } catch (err) {
      if (err instanceof InvalidReferenceError) throw new ServiceError('bad_request', `image: ${err.message}`, { field: 'image' });
      throw err;
    }
    if (!this.registryClient().knows(named.registry)) {
      throw new ServiceError('unprocessable', `registry '${named.registry}' is not one of the registries named in the pipeline file`, {
        field: 'image',
      });
    }
    const ref = await this.promotions.pinned(named);
    const promotion: PromotionFacts = {
      requester: who.name,
      source: this.sourceOf(ref),
      target: target.name,
      reason: request.reason ?? '',
    };
    let facts: ImageFacts[];
    try {
      facts = await buildFacts(this.registryClient(), {
        registry: ref.registry,
        repository: ref.repository,
        digest: ref.digest,
        tag: ref.tag,
        promotion,
        filesystem: needsFilesystem(policy),
        users: needsUsers(policy),
        signal: AbortSignal.timeout(DRY_RUN_TIMEOUT_MS),
        limits: this.config.pipeline.limits.image,
      });
    } catch (err) {
      throw this.dryRunError(err, `${ref.registry}/${ref.repository}@${ref.digest}`);
    }
    const { denied: _denied, warnings: _warnings, ...result } = await evaluatePolicy(this.evaluator, policy, facts);
    return { image: `${ref.registry}/${ref.repository}@${ref.digest}`, tag: ref.tag, target: target.name, ...result, facts };
  }

  private registryClient(): RegistryClient {
    return this.registry;
  }

  private sourceOf(ref: { registry: string; repository: string; tag: string | null; digest: string | null }): string | null {
    try {
      return this.resolver.locate(ref).environment.name;
    } catch {
      return null;
    }
  }

  /** Results of the other gates of this round that have reported, as rules see them. */
  private async otherGates(promotionId: string, round: number): Promise<Record<string, GateFacts>> {
    const rows = await this.dataSource.getRepository(GateResultEntity).find({ where: { promotionId, round, gate: Not('policy') } });
    return Object.fromEntries(rows.filter((r) => r.status !== 'pending').map((r) => [r.gate, gateFactsOf(r)]));
  }

  private dryRunError(err: unknown, image: string): unknown {
    if (isRegistryError(err)) {
      if (err.code === 'not_found')
        return new ServiceError('unprocessable', `image: '${image}' does not exist in the registry`, { field: 'image' });
      if (err.code === 'unknown_registry') return new ServiceError('unprocessable', `image: ${err.message}`, { field: 'image' });
      if (err.retryable) return new ServiceError('unavailable', `image: could not read '${image}': ${err.message}`, { field: 'image' });
      return new ServiceError('bad_gateway', `image: could not read '${image}': ${err.message}`, { field: 'image', code: err.code });
    }
    if (isTimeout(err)) {
      return new ServiceError('unavailable', `image: reading '${image}' took longer than ${DRY_RUN_TIMEOUT_MS / 1000} s`, {
        field: 'image',
      });
    }
    if (err instanceof FactsError || isImageFsError(err))
      return new ServiceError('unprocessable', `image: cannot evaluate '${image}': ${err.message}`, { field: 'image' });
    return err;
  }
}

/** Reading every layer is the expensive part: only when a rule in force looks at the filesystem. */
function needsFilesystem(policy: PolicySet): boolean {
  return policy.rules.some((r) => /\bfilesystem\b/.test(r.expression) || /\bfilesystem\b/.test(r.message));
}

/** A user or group name is looked up in the image's /etc/passwd and /etc/group only when a rule reads `user`. */
function needsUsers(policy: PolicySet): boolean {
  return policy.rules.some((r) => /\buser\b/.test(r.expression) || /\buser\b/.test(r.message));
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

function factsProblem(err: unknown): string {
  if (isRegistryError(err)) return `registry: ${err.message}`;
  if (err instanceof FactsError || isImageFsError(err)) return err.message;
  return `unexpected: ${err instanceof Error ? err.message : String(err)}`;
}
