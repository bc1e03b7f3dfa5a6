export type ImageFsErrorCode =
  | 'not_a_manifest'
  | 'unsupported_layer'
  | 'corrupt_layer'
  | 'unsafe_path'
  | 'too_many_entries'
  | 'too_much_content'
  /** Over one of the per-image bounds (uncompressed bytes, wall time, path work, zstd window): the message names the config key. */
  | 'limit_exceeded'
  /** A file the reader needs exists but cannot be read (a dangling or looping link, too large): the message names the path. */
  | 'unreadable_file'
  | 'registry';

/** An image whose filesystem cannot be read: the gates turn it into an `error` verdict with `message`. */
export class ImageFsError extends Error {
  override readonly name = 'ImageFsError';
  constructor(
    readonly code: ImageFsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isImageFsError(err: unknown): err is ImageFsError {
  return err instanceof ImageFsError;
}
