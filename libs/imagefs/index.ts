// An image's final filesystem read from the registry as streams (gzip, zstd, plain tar; whiteouts
// honoured; symlinks resolved inside the image), keeping only the file contents a caller wants.
export { readImageFiles, ImageFs, type ReadImageOptions, type LayerInfo } from './read-image.js';
export type { ImageEntry, EntryType } from './tree.js';
export { ImageFsError, isImageFsError, type ImageFsErrorCode } from './errors.js';
export { declaredCompression, sniffCompression, type LayerCompression } from './decompress.js';
