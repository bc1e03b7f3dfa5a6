import { HttpException } from '@nestjs/common';
import { DomainError, PromotionError, ServiceError, type PromotionErrorCode, type ServiceErrorCode } from '#libs/domain/index.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details: Record<string, unknown> | null;
}

const SERVICE_STATUS: Record<ServiceErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unprocessable: 422,
  bad_gateway: 502,
  unavailable: 503,
};

const PROMOTION_STATUS: Record<PromotionErrorCode, number> = {
  invalid_transition: 409,
  self_approval: 403,
  role_not_allowed: 403,
  duplicate_decision: 409,
  review_not_required: 422,
  not_awaiting_approval: 409,
  evidence_changed: 409,
};

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

const TOO_LARGE = 'the request body is larger than the 1 MiB limit';

function body(statusCode: number, message: string, details: Record<string, unknown> | null): ErrorBody {
  // Whichever layer refused the type (Fastify, Nest), the answer says what to send instead.
  if (statusCode === 415 && !message.includes('application/json')) message = `${message}: send application/json`;
  return { statusCode, error: REASONS[statusCode] ?? 'Error', message, details };
}

/** Maps any error to the one JSON error shape; null means "unexpected: log it, answer 500". */
export function toErrorBody(err: unknown): ErrorBody | null {
  if (err instanceof ServiceError) return body(SERVICE_STATUS[err.code], err.message, err.details ?? null);
  if (err instanceof PromotionError) return body(PROMOTION_STATUS[err.code], err.message, { code: err.code, ...err.details });
  if (err instanceof DomainError) return body(409, err.message, { code: err.code, ...err.details });
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const res = err.getResponse();
    const message = typeof res === 'string' ? res : String((res as { message?: unknown }).message ?? err.message);
    if (status === 413) return body(413, TOO_LARGE, null);
    return status >= 500 ? null : body(status, message, null);
  }
  // Fastify's own errors (body too large, malformed JSON, unsupported media type) carry a 4xx statusCode.
  const e = err as { statusCode?: unknown; message?: unknown; code?: unknown };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const message = e.statusCode === 413 ? TOO_LARGE : String(e.message);
    return body(e.statusCode, message, typeof e.code === 'string' ? { code: e.code } : null);
  }
  return null;
}

/** A dependency is down: the request may be sent again after `retryAfterS` seconds. */
export function unavailableBody(dependency: string, retryAfterS: number): ErrorBody {
  return body(503, `${dependency} is unreachable; try again in ${retryAfterS} s`, {
    code: 'dependency_unavailable',
    dependency,
    retryAfter: retryAfterS,
  });
}

export const INTERNAL_ERROR: ErrorBody = body(500, 'internal error; it has been logged', null);
