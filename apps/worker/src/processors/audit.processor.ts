import { createHash } from 'node:crypto';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import { UnrecoverableError, type Job } from 'bullmq';
import { AppConfig } from '#libs/config/index.js';
import { postSignedWebhook, WebhookRefused } from '#libs/notify/index.js';
import { JOBS, QUEUES, type AuditPublishJobData } from '#libs/queue/index.js';
import { RegistryClient } from '#libs/registry/index.js';
import { AuditIntegrator, AuditTreeStore, type StoredCheckpoint } from '#libs/workflow/index.js';

/** The OCI artifact a checkpoint is copied as: its signed note is the one layer. */
export const CHECKPOINT_ARTIFACT_TYPE = 'application/vnd.image-promoter.audit.checkpoint.v1';
export const CHECKPOINT_NOTE_MEDIA_TYPE = 'application/vnd.image-promoter.audit.checkpoint.v1+note';
const EMPTY_CONFIG = Buffer.from('{}');

/** The audit queue: checkpoints the API asks for (it holds no key), and copies of each checkpoint outside the database. */
@Processor(QUEUES.audit)
export class AuditProcessor extends WorkerHost {
  constructor(
    private readonly integrator: AuditIntegrator,
    private readonly store: AuditTreeStore,
    private readonly registry: RegistryClient,
    private readonly config: AppConfig,
  ) {
    super();
  }

  async process(job: Job): Promise<StoredCheckpoint | string> {
    if (job.name === JOBS.auditCheckpoint) return this.integrator.checkpointNow();
    if (job.name === JOBS.auditPublish) return this.publish(job.data as AuditPublishJobData);
    throw new UnrecoverableError(`no handler for job '${job.name}' on the audit queue`);
  }

  private async publish(job: AuditPublishJobData): Promise<string> {
    const checkpoint = await this.store.checkpoint(job.size);
    if (!checkpoint) return `no checkpoint at size ${job.size}`;
    return 'webhook' in job.target ? this.toWebhook(job.target.webhook, checkpoint) : this.toRegistry(checkpoint);
  }

  private async toWebhook(index: number, checkpoint: StoredCheckpoint): Promise<string> {
    const hook = this.config.pipeline.webhooks[index];
    const secret = this.config.notifySecrets.webhooks[index];
    if (!hook || secret === undefined || !hook.events.includes('audit.checkpoint'))
      return `webhook ${index} no longer wants audit.checkpoint`;
    const deliveryId = `checkpoint-${checkpoint.size}`;
    const body = JSON.stringify({
      event: 'audit.checkpoint',
      deliveryId,
      at: checkpoint.createdAt,
      checkpoint: { size: checkpoint.size, rootHash: checkpoint.rootHash, note: checkpoint.note },
    });
    try {
      return await postSignedWebhook({ url: hook.url, secret, event: 'audit.checkpoint', deliveryId, body });
    } catch (err) {
      throw err instanceof WebhookRefused ? new UnrecoverableError(err.message) : err;
    }
  }

  /** Tags `size-<n>`, then moves `latest` forward (never back: copies may be retried out of order). */
  private async toRegistry(checkpoint: StoredCheckpoint): Promise<string> {
    const publish = this.config.pipeline.audit.publish;
    if (!publish) return 'no registry copy is configured';
    const location = { registry: publish.registry, repository: publish.repository };
    const note = Buffer.from(checkpoint.note, 'utf8');
    const [config, layer] = await Promise.all([this.registry.pushBlob(location, EMPTY_CONFIG), this.registry.pushBlob(location, note)]);
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: CHECKPOINT_ARTIFACT_TYPE,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: config.digest, size: EMPTY_CONFIG.length },
      layers: [
        {
          mediaType: CHECKPOINT_NOTE_MEDIA_TYPE,
          digest: layer.digest,
          size: note.length,
          annotations: { 'org.opencontainers.image.title': 'checkpoint' },
        },
      ],
      annotations: {
        'dev.image-promoter.audit.size': String(checkpoint.size),
        'dev.image-promoter.audit.root': checkpoint.rootHash,
        'org.opencontainers.image.created': checkpoint.createdAt,
      },
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    await this.registry.putManifest(location, `size-${checkpoint.size}`, { bytes, mediaType: manifest.mediaType });
    let current = -1;
    try {
      const latest = await this.registry.getManifest(location, 'latest');
      current = Number(
        (JSON.parse(Buffer.from(latest.bytes).toString('utf8')) as typeof manifest).annotations?.['dev.image-promoter.audit.size'] ?? -1,
      );
    } catch {
      // No `latest` yet (or not one of ours): this copy becomes it.
    }
    if (current < checkpoint.size) await this.registry.putManifest(location, 'latest', { bytes, mediaType: manifest.mediaType });
    return `pushed ${publish.registry}/${publish.repository}:size-${checkpoint.size} (${digest})`;
  }
}
