import { copyBlob } from './blob-copy.js';
import { pushBlob, readBlob, type Side } from './blobs.js';
import { ImageCopy, settle, type CopyPlan } from './image-copy.js';
import { fetchManifest, fetchReferrers, headManifest, putManifest } from './manifests.js';
import { MediaTypes, type Descriptor, type Manifest } from './media-types.js';
import { pushScope } from './names.js';

export type AttachmentKind = 'signature' | 'attestation' | 'referrers-tag' | 'referrer';

/** What to do when the target already holds a different `.sig`, `.att` or referrers tag. */
export type AttachmentConflict = 'merge' | 'overwrite' | 'keep';

export interface AttachmentOutcome {
  kind: AttachmentKind;
  /** null for a referrer found through the referrers API (stored by digest). */
  tag: string | null;
  /** The digest now in the target (after a merge: the merged manifest). */
  digest: string;
  status: 'copied' | 'unchanged' | 'merged' | 'kept';
}

export interface AttachmentsResult {
  attachments: AttachmentOutcome[];
  bytesCopied: number;
  /** The target serves the referrers API; when not, referrers were added to its fallback tag. */
  targetReferrersApi: boolean | null;
}

const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Copies what is attached to an image: cosign's `sha256-<hex>.sig` / `.att` tags, the OCI
 * referrers fallback tag `sha256-<hex>`, and referrers served by the OCI 1.1 API.
 */
export async function copyAttachments(
  src: Side,
  dst: Side,
  digest: string,
  plan: CopyPlan & { conflict: AttachmentConflict },
): Promise<AttachmentsResult> {
  const hex = digest.slice('sha256:'.length);
  const result: AttachmentsResult = { attachments: [], bytesCopied: 0, targetReferrersApi: null };
  const tags: [AttachmentKind, string][] = [
    ['signature', `sha256-${hex}.sig`],
    ['attestation', `sha256-${hex}.att`],
    ['referrers-tag', `sha256-${hex}`],
  ];
  for (const [kind, tag] of tags) {
    const outcome = await copyTag(src, dst, kind, tag, plan, result);
    if (outcome) result.attachments.push(outcome);
  }

  const referrers = await fetchReferrers(src, digest, plan.signal);
  if (referrers && referrers.length > 0) {
    for (const ref of referrers) {
      const copied = await new ImageCopy(src, dst, plan).run(ref.digest, []);
      result.bytesCopied += copied.bytesCopied;
      const status = copied.manifests.some((m) => m.digest === ref.digest && m.status === 'copied') ? 'copied' : 'unchanged';
      result.attachments.push({ kind: 'referrer', tag: null, digest: ref.digest, status });
    }
    result.targetReferrersApi = (await fetchReferrers(dst, digest, plan.signal)) !== null;
    // Without the API in the target, its clients look for the fallback tag (read-modify-write).
    if (!result.targetReferrersApi) await addToReferrersTag(dst, `sha256-${hex}`, referrers, plan.signal);
  }
  return result;
}

async function copyTag(
  src: Side,
  dst: Side,
  kind: AttachmentKind,
  tag: string,
  plan: CopyPlan & { conflict: AttachmentConflict },
  result: AttachmentsResult,
): Promise<AttachmentOutcome | null> {
  const source = await headManifest(src, tag, plan.signal);
  if (!source) return null;
  const current = await headManifest(dst, tag, plan.signal, [pushScope(dst.repository)]);
  if (current?.digest === source.digest) return { kind, tag, digest: source.digest, status: 'unchanged' };
  if (current && plan.conflict === 'keep') return { kind, tag, digest: current.digest, status: 'kept' };

  if (!current || plan.conflict === 'overwrite') {
    const copied = await new ImageCopy(src, dst, plan).run(source.digest, [tag]);
    result.bytesCopied += copied.bytesCopied;
    return { kind, tag, digest: source.digest, status: 'copied' };
  }
  // Both sides have their own version (e.g. the target was signed after an earlier copy): union them.
  const theirs = await fetchManifest(src, source.digest, plan.signal);
  const ours = await fetchManifest(dst, current.digest, plan.signal);
  const merged =
    kind === 'referrers-tag'
      ? await mergeIndex(src, dst, theirs, ours, plan, result)
      : await mergeLayers(src, dst, theirs, ours, plan, result);
  if (!merged) return { kind, tag, digest: current.digest, status: 'unchanged' };
  const put = await putManifest(dst, tag, merged, plan.signal);
  return { kind, tag, digest: put.digest, status: 'merged' };
}

/** cosign's read-modify-write: the target's layers, then the source's missing ones; config diff_ids follow. */
async function mergeLayers(
  src: Side,
  dst: Side,
  theirs: Manifest,
  ours: Manifest,
  plan: CopyPlan,
  result: AttachmentsResult,
): Promise<Pick<Manifest, 'bytes' | 'mediaType'> | null> {
  const have = new Set((ours.json.layers ?? []).map((l) => l.digest));
  const missing = (theirs.json.layers ?? []).filter((l) => !have.has(l.digest));
  if (missing.length === 0 || !ours.json.config) return null;
  await settle(
    missing.map(async (layer) => {
      if ((await copyBlob(src, dst, layer, plan)) === 'copied') result.bytesCopied += layer.size;
    }),
  );
  const layers = [...(ours.json.layers ?? []), ...missing];
  const config = JSON.parse((await readBlob(dst, ours.json.config, MAX_CONFIG_BYTES, plan.signal)).toString('utf8')) as {
    rootfs?: { type: string; diff_ids: string[] };
  };
  config.rootfs = { type: 'layers', diff_ids: layers.map((l) => l.digest) };
  const configBlob = await pushBlob(dst, Buffer.from(JSON.stringify(config)), plan.signal);
  const json = { ...ours.json, config: { ...ours.json.config, digest: configBlob.digest, size: configBlob.size }, layers };
  return { bytes: Buffer.from(JSON.stringify(json)), mediaType: ours.mediaType };
}

async function mergeIndex(
  src: Side,
  dst: Side,
  theirs: Manifest,
  ours: Manifest,
  plan: CopyPlan,
  result: AttachmentsResult,
): Promise<Pick<Manifest, 'bytes' | 'mediaType'> | null> {
  const have = new Set((ours.json.manifests ?? []).map((m) => m.digest));
  const missing = (theirs.json.manifests ?? []).filter((m) => !have.has(m.digest));
  if (missing.length === 0) return null;
  for (const m of missing) result.bytesCopied += (await new ImageCopy(src, dst, plan).run(m.digest, [])).bytesCopied;
  const json = { ...ours.json, manifests: [...(ours.json.manifests ?? []), ...missing] };
  return { bytes: Buffer.from(JSON.stringify(json)), mediaType: ours.mediaType };
}

async function addToReferrersTag(dst: Side, tag: string, referrers: Descriptor[], signal?: AbortSignal): Promise<void> {
  const current = await headManifest(dst, tag, signal, [pushScope(dst.repository)]);
  const index = current
    ? (await fetchManifest(dst, current.digest, signal)).json
    : { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };
  const have = new Set((index.manifests ?? []).map((m) => m.digest));
  const missing = referrers.filter((r) => !have.has(r.digest));
  if (missing.length === 0) return;
  const json = { ...index, manifests: [...(index.manifests ?? []), ...missing] };
  await putManifest(dst, tag, { bytes: Buffer.from(JSON.stringify(json)), mediaType: MediaTypes.ociIndex }, signal);
}
