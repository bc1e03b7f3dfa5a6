import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyWebhookSignature, webhookSignature } from './webhook-signature.js';

describe('webhook signatures', () => {
  const body = JSON.stringify({ event: 'promotion.promoted', promotion: { id: 'p1' } });

  it('is sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>', () => {
    const hex = createHmac('sha256', 's3cret').update(`1700000000.${body}`).digest('hex');
    expect(webhookSignature('s3cret', '1700000000', body)).toBe(`sha256=${hex}`);
  });

  it('verifies only the same secret, timestamp and body', () => {
    const sig = webhookSignature('s3cret', '1700000000', body);
    expect(verifyWebhookSignature('s3cret', '1700000000', body, sig)).toBe(true);
    expect(verifyWebhookSignature('other', '1700000000', body, sig)).toBe(false);
    expect(verifyWebhookSignature('s3cret', '1700000001', body, sig)).toBe(false);
    expect(verifyWebhookSignature('s3cret', '1700000000', body + ' ', sig)).toBe(false);
    expect(verifyWebhookSignature('s3cret', '1700000000', body, 'sha256=00')).toBe(false);
  });
});
