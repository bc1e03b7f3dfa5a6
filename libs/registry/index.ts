// OCI distribution client: image references, manifests, streamed blob copy with cross-repository
// mount, token and basic auth. Plain TypeScript: no Nest, no database.
export * from './reference.js';
export { RegistryClient } from './registry-client.js';
export type {
  RegistryClientOptions,
  RepositoryLocation,
  SourceImage,
  TargetImage,
  CopyOptions,
  ImageCopyOptions,
  AttachmentOptions,
} from './registry-client.js';
export type { CopyProgress, CopyResult, ManifestOutcome, TagOutcome } from './image-copy.js';
export type { AttachmentsResult, AttachmentOutcome, AttachmentKind, AttachmentConflict } from './attachments.js';
export type { PutResult } from './manifests.js';
export { RegistryError, isRegistryError, type RegistryErrorCode } from './registry-error.js';
export {
  MediaTypes,
  MANIFEST_ACCEPT,
  parseManifest,
  sha256Digest,
  isIndexType,
  type Descriptor,
  type Manifest,
  type ManifestJson,
} from './media-types.js';
export { parseChallenge, type Challenge } from './credentials.js';
export { parseRetryAfter, type RetryOptions } from './retry.js';
