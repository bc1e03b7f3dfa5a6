import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_SIGNATURE_HEADER = 'X-Promoter-Signature';
export const WEBHOOK_TIMESTAMP_HEADER = 'X-Promoter-Timestamp';
export const WEBHOOK_EVENT_HEADER = 'X-Promoter-Event';
export const WEBHOOK_DELIVERY_HEADER = 'X-Promoter-Delivery';

/**
 * `sha256=` + hex HMAC-SHA256(secret, `<timestamp>.<raw body>`). The timestamp (Unix seconds, also
 * sent in X-Promoter-Timestamp) is signed with the body so a receiver can refuse old replays.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

/** The receiver's side, for tests and for tools written in TypeScript. */
export function verifyWebhookSignature(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(webhookSignature(secret, timestamp, body), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
