// An image's final filesystem read from the registry as streams (gzip, zstd, plain tar; whiteouts
// honoured; symlinks and hard links resolved inside the image), keeping only the file contents a
// caller wants, every read bounded by ImageReadLimits.
export {
  readImageFiles,
  ImageFs,
  DEFAULT_IMAGE_LIMITS,
  type ImageReadLimits,
  type ReadImageOptions,
  type LayerInfo,
  type ReadStats,
  type WantedEntry,
} from './read-image.js';
export type { ImageEntry, EntryType } from './tree.js';
export { ImageFsError, isImageFsError, type ImageFsErrorCode } from './errors.js';
export { declaredCompression, sniffCompression, type LayerCompression } from './decompress.js';
