import { describe, expect, it } from 'vitest';
import { slackSignature, verifySlackSignature } from './slack-signature.js';

// Slack's published example ("Verifying requests from Slack"): a slash command request.
const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const TIMESTAMP = '1531420618';
const BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar' +
  '&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=' +
  '&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN' +
  '&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const EXPECTED = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

const check = (over: Partial<Parameters<typeof verifySlackSignature>[0]> = {}) =>
  verifySlackSignature({
    signingSecret: SECRET,
    timestamp: TIMESTAMP,
    signature: EXPECTED,
    rawBody: Buffer.from(BODY),
    nowSeconds: 1531420618,
    ...over,
  });

describe('Slack request signatures', () => {
  it("computes Slack's published example signature", () => {
    expect(slackSignature(SECRET, TIMESTAMP, BODY)).toBe(EXPECTED);
    expect(slackSignature(SECRET, TIMESTAMP, Buffer.from(BODY))).toBe(EXPECTED);
  });

  it('accepts the example within five minutes of its timestamp', () => {
    expect(check()).toEqual({ ok: true });
    expect(check({ nowSeconds: 1531420618 + 300 })).toEqual({ ok: true });
    expect(check({ nowSeconds: 1531420618 - 300 })).toEqual({ ok: true });
  });

  it('refuses a timestamp more than five minutes away, either way', () => {
    expect(check({ nowSeconds: 1531420618 + 301 })).toMatchObject({ ok: false, reason: expect.stringMatching(/five minutes/) });
    expect(check({ nowSeconds: 1531420618 - 301 })).toMatchObject({ ok: false });
  });

  it('refuses a body changed by one byte, another secret, another timestamp', () => {
    expect(check({ rawBody: Buffer.from(BODY.replace('roadrunner', 'roadrunnex')) })).toMatchObject({
      ok: false,
      reason: /does not match/,
    });
    expect(check({ signingSecret: SECRET.replace('8f', '9f') })).toMatchObject({ ok: false, reason: /does not match/ });
    expect(check({ timestamp: '1531420619', nowSeconds: 1531420619 })).toMatchObject({ ok: false, reason: /does not match/ });
  });

  it('refuses missing or malformed headers without computing anything', () => {
    expect(check({ signature: undefined })).toMatchObject({ ok: false, reason: /X-Slack-Signature/ });
    expect(check({ signature: EXPECTED.slice(0, -2) })).toMatchObject({ ok: false, reason: /X-Slack-Signature/ });
    expect(check({ signature: EXPECTED.replace('v0=', 'v1=') })).toMatchObject({ ok: false });
    expect(check({ timestamp: undefined })).toMatchObject({ ok: false, reason: /Timestamp/ });
    expect(check({ timestamp: '15314x0618' })).toMatchObject({ ok: false, reason: /Timestamp/ });
  });
});
