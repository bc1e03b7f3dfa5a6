import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack refuses nothing older itself; we refuse requests more than five minutes off (replays). */
export const SLACK_MAX_SKEW_SECONDS = 5 * 60;

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** `v0=` + hex HMAC-SHA256(signing secret, `v0:<timestamp>:<raw body>`), as Slack signs requests. */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: Buffer | string): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestamp}:`, 'utf8');
  hmac.update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody);
  return 'v0=' + hmac.digest('hex');
}

/**
 * Checks a request's `X-Slack-Request-Timestamp` and `X-Slack-Signature` over the raw body bytes,
 * before anything in the body is looked at. The comparison runs in constant time.
 */
export function verifySlackSignature(input: {
  signingSecret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: Buffer;
  nowSeconds?: number;
}): SignatureCheck {
  const { timestamp, signature } = input;
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'X-Slack-Request-Timestamp is missing or not a number' };
  if (!signature || !/^v0=[0-9a-f]{64}$/.test(signature))
    return { ok: false, reason: 'X-Slack-Signature is missing or not a v0 signature' };
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > SLACK_MAX_SKEW_SECONDS) {
    return { ok: false, reason: 'the request timestamp is more than five minutes away from now (a replay?)' };
  }
  const expected = Buffer.from(slackSignature(input.signingSecret, timestamp, input.rawBody), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  // Both are `v0=` + 64 hex digits (checked above), so the lengths match and nothing leaks through them.
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, reason: 'the Slack signature does not match' };
  return { ok: true };
}
