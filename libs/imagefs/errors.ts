export type ImageFsErrorCode =
  | 'not_a_manifest'
  | 'unsupported_layer'
  | 'corrupt_layer'
  | 'unsafe_path'
  | 'too_many_entries'
  | 'too_much_content'
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
