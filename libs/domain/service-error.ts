import { DomainError } from './errors.js';

export type ServiceErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unprocessable'
  | 'payload_too_large'
  | 'bad_gateway'
  | 'unavailable';

/** An error the service answers with; the HTTP layer maps its code to a status. */
export class ServiceError extends DomainError<ServiceErrorCode> {}
