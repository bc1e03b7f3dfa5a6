import type { RegistryConfig } from '#libs/config/index.js';
import { copyAttachments, type AttachmentConflict, type AttachmentsResult } from './attachments.js';
import { blobExists, openBlob, pushBlob, readBlob, type Side } from './blobs.js';
import { ImageCopy, type CopyPlan, type CopyProgress, type CopyResult } from './image-copy.js';
import { fetchManifest, fetchReferrers, headManifest, putManifest, type PutResult } from './manifests.js';
import type { Descriptor, Manifest } from './media-types.js';
import { checkDigest, checkManifestRef, checkRepository, checkTag, pullScope } from './names.js';
import { parseReference, type ImageReference } from './reference.js';
import { RegistryError } from './registry-error.js';
import { DEFAULT_RETRY, type RetryOptions } from './retry.js';
import { RegistryTransport } from './transport.js';

export interface RegistryClientOptions {
  /** Where basic-auth variables (`usernameEnv`, `passwordEnv`) are looked up; default process.env. */
  env?: Record<string, string | undefined>;
  /** A request is aborted after this long without progress (default 30 s). */
  timeoutMs?: number;
  retries?: Partial<RetryOptions>;
  /** Blobs copied at once per copy (default 6, as skopeo). */
  concurrency?: number;
  /** Blobs of at least this many bytes are uploaded in chunks (default 64 MiB). */
  chunkThreshold?: number;
  /** Size of each upload chunk (default 16 MiB). */
  chunkSize?: number;
}

/** A registry is named by its host (as in image references) or by its name in the pipeline. */
export interface RepositoryLocation {
  registry: string;
  repository: string;
}

export interface SourceImage extends RepositoryLocation {
  digest: string;
}

export interface TargetImage extends RepositoryLocation {
  tags?: string[];
}

export interface CopyOptions {
  signal?: AbortSignal;
  /** Cross-repository mount within one registry (default true). */
  mount?: boolean;
}

export interface ImageCopyOptions extends CopyOptions {
  /** Blobs and bytes done and known so far, on every change (see CopyProgress). */
  onProgress?: (progress: CopyProgress) => void;
}

export interface AttachmentOptions extends CopyOptions {
  conflict?: AttachmentConflict;
}

const MiB = 1024 * 1024;
const DOCKER_HUB_API = ['registry-1.docker.io', 'index.docker.io'];

/**
 * OCI distribution client for the registries of the pipeline, and only those: a host that is not
 * configured is refused before anything is sent.
 */
export class RegistryClient {
  private readonly byHost = new Map<string, RegistryTransport>();
  private readonly byName = new Map<string, RegistryTransport>();
  private readonly retries: RetryOptions;
  private readonly concurrency: number;
  private readonly chunkThreshold: number;
  private readonly chunkSize: number;

  constructor(registries: RegistryConfig[], options: RegistryClientOptions = {}) {
    this.retries = { ...DEFAULT_RETRY, ...options.retries };
    if (this.retries.attempts < 1) throw new RangeError('retries.attempts must be at least 1');
    this.concurrency = Math.max(1, options.concurrency ?? 6);
    this.chunkSize = options.chunkSize ?? 16 * MiB;
    this.chunkThreshold = options.chunkThreshold ?? 64 * MiB;
    if (this.chunkSize < 1) throw new RangeError('chunkSize must be positive');
    const transportOptions = { env: options.env ?? process.env, timeoutMs: options.timeoutMs ?? 30_000, retries: this.retries };
    for (const config of registries) {
      const transport = new RegistryTransport(config, transportOptions);
      const host = config.host.toLowerCase();
      // References say docker.io; the API lives at registry-1.docker.io.
      const hosts = DOCKER_HUB_API.includes(host) ? [host, 'docker.io'] : [host];
      for (const h of hosts) if (!this.byHost.has(h)) this.byHost.set(h, transport);
      this.byName.set(config.name, transport);
    }
  }

  /** True when `registry` (host or pipeline name) is one this client may talk to. */
  knows(registry: string): boolean {
    return this.byHost.has(registry.toLowerCase()) || this.byName.has(registry);
  }

  /** Digest, media type and size of the manifest a tag or digest points at. */
  async resolve(reference: string | ImageReference, signal?: AbortSignal): Promise<Descriptor> {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    const side = this.side(ref);
    const target = ref.digest ?? ref.tag ?? 'latest';
    const found = await headManifest(side, checkManifestRef(target), signal);
    if (!found) throw new RegistryError('not_found', `${ref.registry}/${ref.repository}: no manifest ${target}`, { status: 404 });
    return found;
  }

  /** The manifest's exact bytes (verified when fetched by digest). */
  async getManifest(location: RepositoryLocation, reference: string, signal?: AbortSignal): Promise<Manifest> {
    return fetchManifest(this.side(location), checkManifestRef(reference), signal);
  }

  /** The manifest's descriptor, or null when there is none under that tag or digest. */
  async headManifest(location: RepositoryLocation, reference: string, signal?: AbortSignal): Promise<Descriptor | null> {
    return headManifest(this.side(location), checkManifestRef(reference), signal);
  }

  /** Stores exact manifest bytes under a tag or their own digest, with their media type. */
  async putManifest(
    location: RepositoryLocation,
    reference: string,
    manifest: Pick<Manifest, 'bytes' | 'mediaType'>,
    signal?: AbortSignal,
  ): Promise<PutResult> {
    return putManifest(this.side(location), checkManifestRef(reference), manifest, signal);
  }

  async blobExists(location: RepositoryLocation, digest: string, signal?: AbortSignal): Promise<boolean> {
    return blobExists(this.side(location), checkDigest(digest), signal);
  }

  /** Streams a blob, verified against digest and size; read it to the end or call `return()`. */
  async openBlob(
    location: RepositoryLocation,
    blob: Pick<Descriptor, 'digest' | 'size'>,
    signal?: AbortSignal,
  ): Promise<AsyncGenerator<Uint8Array>> {
    return openBlob(this.side(location), { digest: checkDigest(blob.digest), size: blob.size }, signal);
  }

  /** A small blob read whole (configs, signature payloads), verified. */
  async readBlob(
    location: RepositoryLocation,
    blob: Pick<Descriptor, 'digest' | 'size'>,
    limit = 4 * MiB,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    return readBlob(this.side(location), { digest: checkDigest(blob.digest), size: blob.size }, limit, signal);
  }

  /** Uploads a small blob held in memory; a large one is not sent when the registry already has it. */
  async pushBlob(location: RepositoryLocation, bytes: Uint8Array, signal?: AbortSignal): Promise<Descriptor & { existed: boolean }> {
    return pushBlob(this.side(location), bytes, signal);
  }

  /** Referrers through the OCI 1.1 API; null when the registry has no such API. */
  async referrers(location: RepositoryLocation, digest: string, signal?: AbortSignal): Promise<Descriptor[] | null> {
    return fetchReferrers(this.side(location), checkDigest(digest), signal);
  }

  async listTags(location: RepositoryLocation, signal?: AbortSignal): Promise<string[]> {
    const side = this.side(location);
    const tags: string[] = [];
    let next: string | null = `/v2/${side.repository}/tags/list?n=1000`;
    while (next) {
      const res = await side.transport.request({ method: 'GET', target: next, scopes: [pullScope(side.repository)], signal });
      const doc = JSON.parse((await res.bytes(16 * MiB)).toString('utf8')) as { tags?: string[] | null };
      tags.push(...(doc.tags ?? []));
      const link = /<([^>]+)>;\s*rel="?next"?/.exec(res.header('link') ?? '')?.[1];
      next = link ? side.transport.uploadUrl(link).href : null;
    }
    return tags;
  }

  /**
   * Copies an image by digest (an index with all its children) and then sets the tags. Runs
   * again safely: what the target holds is skipped.
   */
  async copy(source: SourceImage, target: TargetImage, options: ImageCopyOptions = {}): Promise<CopyResult> {
    const src = this.side(source);
    const dst = this.side(target);
    const tags = (target.tags ?? []).map(checkTag);
    return new ImageCopy(src, dst, { ...this.plan(options), onProgress: options.onProgress }).run(checkDigest(source.digest), tags);
  }

  /** Copies signatures, attestations and referrers of `source.digest` (none is fine). */
  async copyAttachments(source: SourceImage, target: RepositoryLocation, options: AttachmentOptions = {}): Promise<AttachmentsResult> {
    const src = this.side(source);
    const dst = this.side(target);
    return copyAttachments(src, dst, checkDigest(source.digest), { ...this.plan(options), conflict: options.conflict ?? 'merge' });
  }

  private plan(options: CopyOptions): CopyPlan {
    return {
      concurrency: this.concurrency,
      chunkThreshold: this.chunkThreshold,
      chunkSize: this.chunkSize,
      retries: this.retries,
      mount: options.mount ?? true,
      signal: options.signal,
    };
  }

  private side(location: RepositoryLocation): Side {
    const transport = this.byHost.get(location.registry.toLowerCase()) ?? this.byName.get(location.registry);
    if (!transport) {
      throw new RegistryError('unknown_registry', `registry '${location.registry}' is not one of the pipeline's registries`);
    }
    return { transport, repository: checkRepository(location.repository) };
  }
}
