import {
  WEBHOOK_DELIVERY_HEADER,
  WEBHOOK_EVENT_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  webhookSignature,
} from './webhook-signature.js';

const WEBHOOK_TIMEOUT_MS = 10_000;

/** A receiver refused the delivery for good (a 4xx other than 408 and 429): retrying cannot help. */
export class WebhookRefused extends Error {
  readonly permanent = true;
}

export interface SignedWebhook {
  url: string;
  secret: string;
  event: string;
  deliveryId: string;
  body: string;
}

/**
 * Posts one signed webhook delivery and says how it went: `delivered (status)`, or throws
 * WebhookRefused for a permanent refusal and Error for anything worth a retry.
 */
export async function postSignedWebhook(hook: SignedWebhook): Promise<string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const res = await fetch(hook.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'image-promoter',
      [WEBHOOK_EVENT_HEADER]: hook.event,
      [WEBHOOK_DELIVERY_HEADER]: hook.deliveryId,
      [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
      [WEBHOOK_SIGNATURE_HEADER]: webhookSignature(hook.secret, timestamp, hook.body),
    },
    body: hook.body,
    // A redirect could point anywhere; the config names the one URL we deliver to.
    redirect: 'error',
    signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
  });
  await res.arrayBuffer().catch(() => undefined);
  if (res.ok) return `delivered (${res.status})`;
  const message = `webhook ${new URL(hook.url).origin} answered ${res.status}`;
  if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new WebhookRefused(message);
  throw new Error(message);
}
