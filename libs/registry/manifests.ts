import { MANIFEST_ACCEPT, MediaTypes, parseManifest, sha256Digest, type Descriptor, type Manifest } from './media-types.js';
import { isDigestRef, pullScope, pushScope } from './names.js';
import { RegistryError } from './registry-error.js';
import type { RegistryTransport } from './transport.js';

/** Larger than any manifest a registry accepts (OCI asks registries for at least 4 MiB). */
export const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;

export interface ManifestSide {
  transport: RegistryTransport;
  repository: string;
}

/** Digest, media type and size of a manifest without its body; null when absent. */
export async function headManifest(side: ManifestSide, ref: string, signal?: AbortSignal, scopes?: string[]): Promise<Descriptor | null> {
  const res = await side.transport.request({
    method: 'HEAD',
    target: `/v2/${side.repository}/manifests/${ref}`,
    scopes: scopes ?? [pullScope(side.repository)],
    headers: { accept: MANIFEST_ACCEPT },
    accept: [200, 404],
    signal,
  });
  await res.discard();
  if (res.status === 404) return null;
  const digest = res.header('docker-content-digest');
  const mediaType = res.header('content-type')?.split(';')[0]!.trim();
  const size = Number(res.header('content-length') ?? NaN);
  if (!digest || !mediaType || mediaType === 'application/json' || !Number.isSafeInteger(size)) {
    // Not every registry describes a manifest on HEAD: read it instead.
    const m = await fetchManifest(side, ref, signal);
    return { digest: m.digest, mediaType: m.mediaType, size: m.size };
  }
  if (isDigestRef(ref) && digest !== ref) {
    throw new RegistryError('digest_mismatch', `${side.transport.config.host}/${side.repository}@${ref}: registry says ${digest}`);
  }
  return { digest, mediaType, size };
}

/** The manifest's exact bytes; fetched by digest, they must hash to it. */
export async function fetchManifest(side: ManifestSide, ref: string, signal?: AbortSignal): Promise<Manifest> {
  const res = await side.transport.request({
    method: 'GET',
    target: `/v2/${side.repository}/manifests/${ref}`,
    scopes: [pullScope(side.repository)],
    headers: { accept: MANIFEST_ACCEPT },
    signal,
  });
  const bytes = await res.bytes(MAX_MANIFEST_BYTES);
  const byDigest = isDigestRef(ref);
  const manifest = parseManifest(bytes, res.header('content-type'), byDigest ? ref : null);
  const claimed = res.header('docker-content-digest');
  if (!byDigest && claimed !== null && claimed !== manifest.digest) {
    throw new RegistryError(
      'digest_mismatch',
      `${side.transport.config.host}/${side.repository}:${ref}: bytes hash to ${manifest.digest}, registry says ${claimed}`,
    );
  }
  return manifest;
}

export interface PutResult {
  digest: string;
  /** The registry took in the manifest's `subject` (it serves the referrers API). */
  subjectIndexed: boolean;
}

/** Stores the exact bytes under a tag or their digest, with the manifest's own media type. */
export async function putManifest(
  side: ManifestSide,
  ref: string,
  manifest: Pick<Manifest, 'bytes' | 'mediaType'>,
  signal?: AbortSignal,
): Promise<PutResult> {
  const digest = sha256Digest(manifest.bytes);
  if (isDigestRef(ref) && ref !== digest) throw new RegistryError('digest_mismatch', `manifest bytes hash to ${digest}, not ${ref}`);
  const res = await side.transport.request({
    method: 'PUT',
    target: `/v2/${side.repository}/manifests/${ref}`,
    scopes: [pushScope(side.repository)],
    headers: { 'content-type': manifest.mediaType },
    body: manifest.bytes,
    accept: [201],
    signal,
  });
  await res.discard();
  const stored = res.header('docker-content-digest');
  if (stored !== null && stored !== digest) {
    throw new RegistryError(
      'digest_mismatch',
      `${side.transport.config.host}/${side.repository}: registry stored the manifest as ${stored}, not ${digest}`,
    );
  }
  return { digest, subjectIndexed: res.header('oci-subject') !== null };
}

/** Referrers of a digest through the OCI 1.1 API; null when the registry does not serve it. */
export async function fetchReferrers(side: ManifestSide, digest: string, signal?: AbortSignal): Promise<Descriptor[] | null> {
  const res = await side.transport.request({
    method: 'GET',
    target: `/v2/${side.repository}/referrers/${digest}`,
    scopes: [pullScope(side.repository)],
    headers: { accept: MediaTypes.ociIndex },
    accept: [200, 400, 404, 405, 501],
    signal,
  });
  if (res.status !== 200) {
    await res.discard();
    return null;
  }
  const bytes = await res.bytes(MAX_MANIFEST_BYTES);
  // The answer is generated per request: its digest means nothing, only its descriptors do.
  const index = parseManifest(bytes, MediaTypes.ociIndex, null);
  return index.json.manifests ?? [];
}
