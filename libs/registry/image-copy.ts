import { copyBlob, type BlobCopyOptions, type BlobOutcome, type Side } from './blob-copy.js';
import { blobsOf, childrenOf, type Descriptor, type Manifest } from './media-types.js';
import { fetchManifest, headManifest, putManifest } from './manifests.js';
import { pushScope } from './names.js';
import { Semaphore } from './throttle.js';

export interface ManifestOutcome {
  digest: string;
  mediaType: string;
  status: 'copied' | 'skipped';
}

export interface TagOutcome {
  tag: string;
  status: 'set' | 'unchanged';
}

export interface CopyResult {
  digest: string;
  mediaType: string;
  size: number;
  bytesCopied: number;
  blobsCopied: number;
  blobsMounted: number;
  blobsSkipped: number;
  /** Every manifest looked at, children before their index. */
  manifests: ManifestOutcome[];
  tags: TagOutcome[];
}

/**
 * How far a copy has got. Totals grow as manifests are read (an index's children are found one by
 * one); blobs the target already held, or that were mounted, count as done with their bytes.
 */
export interface CopyProgress {
  blobsDone: number;
  blobsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface CopyPlan extends BlobCopyOptions {
  concurrency: number;
  /** Called on every change (each chunk streamed): cheap work only, throttle anything more. */
  onProgress?: (progress: CopyProgress) => void;
}

/**
 * Copies one manifest by digest with everything it references: blobs first, children before
 * their index, the manifest itself last, tags after that. What the target already holds is skipped:
 * a registry stores a manifest only once everything it references is present.
 */
export class ImageCopy {
  private readonly blobs = new Map<string, Promise<void>>();
  private readonly children = new Map<string, Promise<unknown>>();
  private readonly limit: Semaphore;
  private readonly progress: CopyProgress = { blobsDone: 0, blobsTotal: 0, bytesDone: 0, bytesTotal: 0 };
  /** Bytes of blobs being streamed now, counted in `bytesDone` until they finish. */
  private readonly streaming = new Map<string, number>();
  private readonly result: Omit<CopyResult, 'digest' | 'mediaType' | 'size'> = {
    bytesCopied: 0,
    blobsCopied: 0,
    blobsMounted: 0,
    blobsSkipped: 0,
    manifests: [],
    tags: [],
  };

  constructor(
    private readonly src: Side,
    private readonly dst: Side,
    private readonly plan: CopyPlan,
  ) {
    this.limit = new Semaphore(plan.concurrency);
  }

  async run(digest: string, tags: string[]): Promise<CopyResult> {
    const { descriptor, manifest } = await this.copyManifest(digest);
    let root = manifest;
    for (const tag of tags) {
      const current = await headManifest(this.dst, tag, this.plan.signal, [pushScope(this.dst.repository)]);
      if (current?.digest === digest) {
        this.result.tags.push({ tag, status: 'unchanged' });
        continue;
      }
      root ??= await fetchManifest(this.src, digest, this.plan.signal);
      await putManifest(this.dst, tag, root, this.plan.signal);
      this.result.tags.push({ tag, status: 'set' });
    }
    return { digest, mediaType: descriptor.mediaType, size: descriptor.size, ...this.result };
  }

  private async copyManifest(digest: string): Promise<{ descriptor: Descriptor; manifest: Manifest | null }> {
    const present = await headManifest(this.dst, digest, this.plan.signal, [pushScope(this.dst.repository)]);
    if (present) {
      this.result.manifests.push({ digest, mediaType: present.mediaType, status: 'skipped' });
      return { descriptor: present, manifest: null };
    }
    const manifest = await fetchManifest(this.src, digest, this.plan.signal);
    await settle(childrenOf(manifest).map((child) => this.copyChildOnce(child.digest)));
    await settle(blobsOf(manifest).map((blob) => this.copyBlobOnce(blob)));
    await putManifest(this.dst, digest, manifest, this.plan.signal);
    this.result.manifests.push({ digest, mediaType: manifest.mediaType, status: 'copied' });
    return { descriptor: { digest, mediaType: manifest.mediaType, size: manifest.size }, manifest };
  }

  private copyChildOnce(digest: string): Promise<unknown> {
    let task = this.children.get(digest);
    if (!task) this.children.set(digest, (task = this.copyManifest(digest)));
    return task;
  }

  private copyBlobOnce(blob: Descriptor): Promise<void> {
    let task = this.blobs.get(blob.digest);
    if (!task) {
      this.progress.blobsTotal++;
      this.progress.bytesTotal += blob.size;
      this.report();
      const onBytes = this.plan.onProgress ? (digest: string, bytes: number) => this.streamed(digest, bytes) : undefined;
      task = this.limit.run(() => copyBlob(this.src, this.dst, blob, this.plan, onBytes)).then((outcome) => this.count(outcome, blob));
      this.blobs.set(blob.digest, task);
    }
    return task;
  }

  private streamed(digest: string, bytes: number): void {
    this.progress.bytesDone += bytes - (this.streaming.get(digest) ?? 0);
    this.streaming.set(digest, bytes);
    this.report();
  }

  private report(): void {
    this.plan.onProgress?.({ ...this.progress });
  }

  private count(outcome: BlobOutcome, blob: Descriptor): void {
    const size = blob.size;
    this.progress.blobsDone++;
    this.progress.bytesDone += size - (this.streaming.get(blob.digest) ?? 0);
    this.streaming.delete(blob.digest);
    this.report();
    if (outcome === 'skipped') this.result.blobsSkipped++;
    else if (outcome === 'mounted') this.result.blobsMounted++;
    else {
      this.result.blobsCopied++;
      this.result.bytesCopied += size;
    }
  }
}

/** Like Promise.all, but returns only once every task has ended: nothing keeps running after a failure. */
export async function settle<T>(tasks: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
