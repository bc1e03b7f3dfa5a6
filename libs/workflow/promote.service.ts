import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Principal } from '#libs/auth/index.js';
import type { EnvironmentConfig } from '#libs/config/index.js';
import { uniqueViolation } from '#libs/db/index.js';
import { ServiceError, SYSTEM_ACTORS } from '#libs/domain/index.js';
import { RegistryClient, RegistryError, splitRepository, type CopyResult } from '#libs/registry/index.js';
import { CYCLONEDX_PREDICATE_TYPE, PROMOTION_PREDICATE_TYPE, VSA_PREDICATE_TYPE } from '#libs/signing/index.js';
import { AttestationService } from './attestation.service.js';
import { AuditService } from './audit.service.js';
import { ProgressRecorder } from './copy-progress.js';
import { FollowUpService } from './follow-up.service.js';
import { promotionPredicate, verificationSummary } from './promotion-attestations.js';
import { lastErrorOf, recordLastError } from './last-error.js';
import { PromotionStateService, type PromotionRecord } from './promotion-state.service.js';
import { PromotionService } from './promotion.service.js';
import type { PromotionView } from './promotion.view.js';
import { latestBuiltinSbom } from './scan/scan-rows.js';

const EXECUTOR = SYSTEM_ACTORS.promoter;

export type PromoteStep = 'copy' | 'attachments' | 'signing';

/** Which step of the promote job an error came from (the error itself stays what it was, for retry decisions). */
const stepOfError = new WeakMap<object, PromoteStep>();

async function atStep<T>(step: PromoteStep, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (typeof err === 'object' && err !== null && !stepOfError.has(err)) stepOfError.set(err, step);
    throw err;
  }
}

/** `to` replaces `from` (an error wrapped so it is not retried): it keeps the step `from` came from. */
export function keepPromoteStep<E extends object>(from: unknown, to: E): E {
  stepOfError.set(to, promoteStepOf(from));
  return to;
}

export function promoteStepOf(err: unknown): PromoteStep {
  return (typeof err === 'object' && err !== null && stepOfError.get(err)) || 'copy';
}

const location = splitRepository;

/**
 * Carries out an approved promotion: copies the digest into the target environment's repository
 * (mounting blobs when the registry is the same), sets the target tag, and records what now stands
 * there. Safe to run again at any point: the copy skips what the target already holds.
 */
@Injectable()
export class PromoteService {
  constructor(
    private readonly state: PromotionStateService,
    private readonly audit: AuditService,
    private readonly registry: RegistryClient,
    private readonly promotions: PromotionService,
    private readonly followUp: FollowUpService,
    private readonly attestations: AttestationService,
    private readonly dataSource: DataSource,
  ) {}

  async execute(id: string): Promise<'promoted' | 'skipped'> {
    const record = await this.audit.transaction(async (manager) => {
      const promotion = await this.state.lock(manager, id);
      if (promotion.status === 'approved') await this.state.move(manager, promotion, 'begin_promote', EXECUTOR);
      return promotion.status === 'promoting' ? this.state.load(manager, promotion) : null;
    });
    if (!record) return 'skipped';
    const claimed = record.promotion;

    const env = this.state.environmentOf(claimed);
    const tags = [...new Set([...(claimed.targetTag ? [claimed.targetTag] : []), ...env.tags])];
    const source = { ...location(claimed.repository), digest: claimed.digest };
    const target = location(claimed.targetRepository);
    const progress = new ProgressRecorder(this.dataSource, claimed.id);
    const result: CopyResult = await atStep('copy', async () => {
      let copied: CopyResult;
      try {
        await progress.start();
        copied = await this.registry.copy(source, { ...target, tags }, { onProgress: (p) => progress.update(p) });
      } finally {
        await progress.finish();
      }
      if (copied.digest !== claimed.digest) {
        throw new RegistryError('digest_mismatch', `the target registry holds ${copied.digest} where ${claimed.digest} was copied`);
      }
      return copied;
    });
    const attachments = env.copyAttachments ? await atStep('attachments', () => this.registry.copyAttachments(source, target)) : null;
    // After the copy (and the source's own signatures), before success is recorded: a crash here
    // means a retry, and signing finds what it already wrote instead of adding it again.
    const signing = await atStep('signing', () => this.signAndAttest(record, env, tags));
    await this.audit.transaction(async (manager) => {
      const promotion = await this.state.lock(manager, id);
      if (promotion.status !== 'promoting') return;
      await this.state.move(manager, promotion, 'promote_succeeded', EXECUTOR, {
        target: `${claimed.targetRepository}@${result.digest}`,
        tags: result.tags.map((t) => t.tag),
        mediaType: result.mediaType,
        manifests: result.manifests.length,
        blobsCopied: result.blobsCopied,
        blobsMounted: result.blobsMounted,
        blobsSkipped: result.blobsSkipped,
        bytesCopied: result.bytesCopied,
        ...(attachments
          ? { attachments: attachments.attachments.map((a) => ({ kind: a.kind, tag: a.tag, digest: a.digest, status: a.status })) }
          : {}),
        signing,
      });
    });
    return 'promoted';
  }

  /** Signs the target digest and attests the VSA and the promotion record; what was written goes into the audit. */
  private async signAndAttest(record: PromotionRecord, env: EnvironmentConfig, tags: string[]) {
    if (!this.attestations.enabled) return { signed: false };
    const target = { repository: record.promotion.targetRepository, digest: record.promotion.digest };
    // The built-in scanner's SBOM of this digest, when the scan gate kept one: attested with the rest,
    // so the image is complete when it is `promoted` (the scan watcher then finds it present).
    const sbom = await latestBuiltinSbom(this.dataSource, record.promotion.digest);
    // Different tags (.sig and .att): the two read-modify-writes can run side by side.
    const [signature, attestations] = await Promise.all([
      this.attestations.sign(target),
      this.attestations.attestAll(target, [
        { predicateType: VSA_PREDICATE_TYPE, predicate: verificationSummary(record, env) },
        { predicateType: PROMOTION_PREDICATE_TYPE, predicate: promotionPredicate(record, tags, true) },
        ...(sbom ? [{ predicateType: CYCLONEDX_PREDICATE_TYPE, predicate: sbom }] : []),
      ]),
    ]);
    return { signed: true, keyId: this.attestations.keyId, signature, attestations };
  }

  /** An attempt failed and another will follow: readers see why it is taking longer. */
  async noteError(id: string, err: unknown, attempt: number): Promise<void> {
    const error = lastErrorOf(err instanceof Error ? err.message : String(err), promoteStepOf(err), attempt);
    await this.audit.transaction(async (manager) => {
      const promotion = await this.state.lock(manager, id);
      if (promotion.status === 'promoting') await recordLastError(manager, id, error);
    });
  }

  /** The copy gave up: the promotion ends `failed`, with the error in its record and as its lastError. */
  async fail(id: string, err: unknown, attempt: number): Promise<void> {
    const error = lastErrorOf(err instanceof Error ? err.message : String(err), promoteStepOf(err), attempt);
    await this.audit.transaction(async (manager) => {
      const promotion = await this.state.lock(manager, id);
      if (promotion.status !== 'promoting') return;
      await this.state.move(
        manager,
        promotion,
        'promote_failed',
        EXECUTOR,
        { error: error.message, step: error.step, attempt: error.attempt },
        { lastError: error },
      );
    });
  }

  /** A release manager tries a failed copy again, on the approvals that still count; none left: awaiting approval. */
  async retry(who: Principal, id: string): Promise<PromotionView> {
    let view: PromotionView;
    try {
      view = await this.audit.transaction(async (manager) => {
        const promotion = await this.state.lock(manager, id);
        // Approvals expire: those given before the copy failed may no longer count. Then the
        // promotion awaits approval again instead of copying on approvals that ran out.
        let approvalsStand = true;
        let changes = {};
        if (promotion.status === 'failed') {
          const tally = this.state.tally(await this.state.load(manager, promotion));
          approvalsStand = tally.decision === 'approved';
          if (!approvalsStand) changes = { expiresAt: new Date(Date.now() + this.state.environmentOf(promotion).approvals.timeoutMs) };
        }
        await this.state.move(manager, promotion, 'retry', who, approvalsStand ? {} : { approvalsExpired: true }, changes, {
          approvalsStand,
        });
        return this.promotions.view(manager, promotion);
      });
    } catch (err) {
      if (uniqueViolation(err) === 'promotions_one_live') {
        throw new ServiceError('conflict', 'this digest has another live promotion into that environment now; retry that one instead');
      }
      throw err;
    }
    await this.followUp.after(view);
    return view;
  }
}
