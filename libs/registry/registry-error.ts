export type RegistryErrorCode =
  | 'unknown_registry' // the host is not one of the pipeline's registries: nothing was sent
  | 'unauthorized' // 401/403, or credentials missing or refused
  | 'not_found' // manifest, blob or repository unknown
  | 'digest_mismatch' // bytes do not hash to the digest they were fetched or pushed by
  | 'protocol' // the registry answered something the distribution API does not allow
  | 'unavailable'; // connection failures, timeouts, 429 and 5xx after the retries ran out

export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly options: { status?: number; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RegistryError';
  }

  get status(): number | undefined {
    return this.options.status;
  }

  /** True when the same operation may succeed later (a job may be retried). */
  get retryable(): boolean {
    return this.options.retryable ?? this.code === 'unavailable';
  }
}

export function isRegistryError(err: unknown, code?: RegistryErrorCode): err is RegistryError {
  return err instanceof RegistryError && (code === undefined || err.code === code);
}
