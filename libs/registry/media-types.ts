import { createHash } from 'node:crypto';
import { RegistryError } from './registry-error.js';

export const MediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Sent on every manifest request: distribution 2.8 hides OCI manifests and downgrades schema2 otherwise. */
export const MANIFEST_ACCEPT = [MediaTypes.ociIndex, MediaTypes.ociManifest, MediaTypes.dockerManifestList, MediaTypes.dockerManifest].join(
  ', ',
);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: { architecture: string; os: string; variant?: string; 'os.version'?: string; 'os.features'?: string[] };
}

/** A manifest exactly as the registry served it: the bytes are the truth, `json` is a view of them. */
export interface Manifest {
  digest: string;
  mediaType: string;
  size: number;
  bytes: Buffer;
  json: ManifestJson;
}

export interface ManifestJson {
  schemaVersion?: number;
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function sha256Digest(bytes: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(bytes).digest('hex');
}

export function isIndexType(mediaType: string): boolean {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList;
}

/** Parses manifest bytes and checks the descriptors a copy will follow; never re-serialises. */
export function parseManifest(bytes: Buffer, contentType: string | null, expectedDigest: string | null): Manifest {
  const digest = sha256Digest(bytes);
  if (expectedDigest !== null && digest !== expectedDigest) {
    throw new RegistryError('digest_mismatch', `manifest bytes hash to ${digest}, expected ${expectedDigest}`);
  }
  let json: ManifestJson;
  try {
    json = JSON.parse(bytes.toString('utf8')) as ManifestJson;
  } catch {
    throw new RegistryError('protocol', `manifest ${digest} is not JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RegistryError('protocol', `manifest ${digest} is not a JSON object`);
  }
  const type = manifestType(json, contentType);
  const descriptors = [...(json.config ? [json.config] : []), ...(json.layers ?? []), ...(json.manifests ?? [])];
  for (const d of descriptors) checkDescriptor(d, digest);
  if (isIndexType(type) && !Array.isArray(json.manifests)) {
    throw new RegistryError('protocol', `index ${digest} has no manifests array`);
  }
  return { digest, mediaType: type, size: bytes.length, bytes, json };
}

function manifestType(json: ManifestJson, contentType: string | null): string {
  const header = contentType?.split(';')[0]!.trim().toLowerCase() ?? '';
  if (header && header !== 'application/json' && header !== 'application/octet-stream' && header !== 'text/plain') return header;
  if (typeof json.mediaType === 'string') return json.mediaType;
  // OCI allows an index or manifest without mediaType; tell them apart by shape.
  return Array.isArray(json.manifests) ? MediaTypes.ociIndex : MediaTypes.ociManifest;
}

function checkDescriptor(d: Descriptor, owner: string): void {
  if (typeof d !== 'object' || d === null || typeof d.digest !== 'string' || !DIGEST.test(d.digest)) {
    throw new RegistryError('protocol', `manifest ${owner} has a descriptor without a sha256 digest`);
  }
  if (!Number.isSafeInteger(d.size) || d.size < 0) {
    throw new RegistryError('protocol', `manifest ${owner}: descriptor ${d.digest} has no valid size`);
  }
}

/** Blobs a manifest needs in its repository; foreign layers (with `urls`) live elsewhere by design. */
export function blobsOf(manifest: Manifest): Descriptor[] {
  if (isIndexType(manifest.mediaType)) return [];
  const out: Descriptor[] = [];
  if (manifest.json.config) out.push(manifest.json.config);
  for (const layer of manifest.json.layers ?? []) if (!(layer.urls && layer.urls.length > 0)) out.push(layer);
  return out;
}

export function childrenOf(manifest: Manifest): Descriptor[] {
  return isIndexType(manifest.mediaType) ? (manifest.json.manifests ?? []) : [];
}
