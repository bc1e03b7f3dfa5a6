import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotifyService, verifyWebhookSignature } from '#libs/notify/index.js';
import { startFakeSlack, type FakeSlack, type SlackCall } from '../helpers/fake-slack.js';
import { pushImage } from '../helpers/images.js';
import { devImage, digest, eventually, localPipeline, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

const SIGNING_SECRET = `signing-${randomBytes(12).toString('hex')}`;
const WEBHOOK_SECRET = `hook-${randomBytes(12).toString('hex')}`;

let t: TestApp;
let slack: FakeSlack;
let hooks: { server: Server; url: string; received: { headers: Record<string, string>; body: string }[] };
let ci: string;
let rm: string;

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

function pipeline(): string {
  return `${localPipeline()}  - name: staging
    from: dev
    repository: local/staging/{app}
    approvals: { required: 2, roles: [release-manager] }
  - name: hotfix
    from: dev
    repository: local/hotfix/{app}
    approvals: { required: 1, roles: [release-manager] }
  - name: gated
    from: dev
    repository: local/gated/{app}
    gates: { scan: { failOn: critical } }
    approvals: { required: 1, roles: [release-manager] }
slack:
  botTokenEnv: SLACK_BOT_TOKEN
  signingSecretEnv: SLACK_SIGNING_SECRET
  apiUrl: ${slack.apiUrl}
  channels: { staging: C0STAGING, hotfix: C0HOTFIX, gated: C0GATED }
  lookupByEmail: true
  users:
    U0ALICE: { principal: alice, roles: [release-manager] }
    U0BOB: { principal: bob, roles: [release-manager] }
    U0CAROL: { principal: carol, roles: [release-manager] }
    U0AUDREY: { principal: audrey, roles: [auditor] }
    U0CIBOT: { principal: ci-main, roles: [release-manager] }
    dave@example.com: { principal: dave, roles: [release-manager] }
    U0ERIN: { principal: erin-slack, roles: [release-manager] }
    U0FRANK: { principal: frank-slack, roles: [release-manager] }
webhooks:
  - url: ${hooks.url}
    secretEnv: HOOK_SECRET
    events: [promotion.awaiting_approval, approval.approve, promotion.promoted, promotion.blocked]
`;
}

beforeAll(async () => {
  slack = await startFakeSlack();
  slack.users.set('U0DAVE', { id: 'U0DAVE', email: 'Dave@Example.com' });
  slack.users.set('U0ERIN', { id: 'U0ERIN', email: 'erin@example.com' });
  slack.users.set('U0FRANK', { id: 'U0FRANK', email: 'frank@example.com', emailConfirmed: false });
  const received: { headers: Record<string, string>; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hooks = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
  t = await startTestApp({
    pipeline: pipeline(),
    env: { SLACK_BOT_TOKEN: slack.token, SLACK_SIGNING_SECRET: SIGNING_SECRET, HOOK_SECRET: WEBHOOK_SECRET },
    gateHandlers: {
      scan: async () => ({
        status: 'failed',
        summary: '2 critical vulnerabilities (CVE-2026-0001, CVE-2026-0002)',
        evidence: { critical: 2 },
      }),
    },
  });
  ci = await t.token('ci-main', ['ci']);
  rm = await t.token('rita', ['release-manager']);
});
afterAll(async () => {
  await t?.close();
  await slack?.close();
  await new Promise((r) => hooks?.server.close(r));
});

async function requestPromotion(target: string, given?: string) {
  const image = given ?? (await devImage('web'));
  const res = await t
    .api()
    .post('/api/v1/promotions')
    .set(auth(ci))
    .send({ image, target, reason: `ship it <@U0EVERYONE> ${randomBytes(3).toString('hex')}` });
  expect(res.status).toBe(202);
  return res.body as { id: string; digest: string; status: string };
}

const about = (id: string) => (c: SlackCall) => JSON.stringify(c.args).includes(id);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const actionsOf = (blocks: any[]) => blocks.find((b) => b.type === 'actions');

/** The approval message of a promotion as Slack now shows it (after its post and updates). */
async function approvalMessage(id: string) {
  const key = await eventually(
    async () =>
      [...slack.messages.entries()].find(
        ([, m]) => m.blocks.some((b: { type: string }) => b.type === 'header') && JSON.stringify(m.blocks).includes(id),
      )?.[0],
  );
  return { channel: key.split(':')[0]!, message: () => slack.messages.get(key)! };
}

async function buttonValue(id: string, action = 'promotion.approve'): Promise<string> {
  const { message } = await approvalMessage(id);
  const buttons = actionsOf(message().blocks);
  return buttons.elements.find((e: { action_id: string }) => e.action_id === action).value;
}

interface ClickOptions {
  action?: 'promotion.approve' | 'promotion.reject';
  secret?: string;
  timestamp?: number;
  tamper?: (body: string) => string;
  responseUrl?: string;
}

/** Posts a block_actions payload the way Slack does: urlencoded `payload=<json>`, signed. */
function click(user: string, value: string, options: ClickOptions = {}) {
  const responseUrl = options.responseUrl ?? slack.responseUrl();
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), team_id: 'T0TEST' },
    api_app_id: 'A0PROMOTER',
    team: { id: 'T0TEST', domain: 'test' },
    container: { type: 'message', message_ts: '1.000001', channel_id: 'C0STAGING' },
    trigger_id: '123.456.abc',
    response_url: responseUrl,
    actions: [
      {
        type: 'button',
        block_id: 'decision',
        action_id: options.action ?? 'promotion.approve',
        value,
        action_ts: String(Date.now() / 1000),
      },
    ],
  };
  const body = 'payload=' + encodeURIComponent(JSON.stringify(payload));
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature =
    'v0=' +
    createHmac('sha256', options.secret ?? SIGNING_SECRET)
      .update(`v0:${timestamp}:${body}`)
      .digest('hex');
  const sent = options.tamper ? options.tamper(body) : body;
  const req = t
    .api()
    .post('/api/v1/slack/interactions')
    .set('Content-Type', 'application/x-www-form-urlencoded')
    .set('X-Slack-Request-Timestamp', timestamp)
    .set('X-Slack-Signature', signature)
    .send(sent);
  return Object.assign(req, { responseUrl });
}

async function ephemeral(responseUrl: string): Promise<{ response_type: string; text: string; replace_original: boolean }> {
  const path = new URL(responseUrl).pathname;
  return eventually(
    async () => slack.responses.find((r) => r.path === path)?.body as { response_type: string; text: string; replace_original: boolean },
  );
}

async function approvals(id: string) {
  const { rows } = await t.db.query('SELECT approver_id, decision, channel FROM approvals WHERE promotion_id = $1 ORDER BY created_at', [
    id,
  ]);
  return rows as { approver_id: string; decision: string; channel: string }[];
}

async function status(id: string): Promise<string> {
  const res = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
  return res.body.status;
}

describe('the approval message', () => {
  it('is posted to the target environment channel with the promotion, gates, approvals and buttons', async () => {
    const p = await requestPromotion('staging');
    const { channel, message } = await approvalMessage(p.id);
    expect(channel).toBe('C0STAGING');
    const posted = slack.ok('chat.postMessage').find(about(p.id))!;
    expect(posted.token).toBe(slack.token);
    const text = JSON.stringify(message().blocks);
    expect(text).toContain(`${registryHost()}/dev/web@sha256:${p.digest.slice(7, 19)}`);
    expect(text).toContain('dev → staging');
    expect(text).toContain('ci-main');
    // The reason is the requester's text: escaped, so it cannot mention or link.
    expect(text).toContain('ship it &lt;@U0EVERYONE&gt;');
    expect(text).toContain('0 of 2');
    expect(text).toContain('2 more needed from: release-manager');
    const buttons = actionsOf(message().blocks);
    expect(buttons.elements.map((e: { action_id: string }) => e.action_id)).toEqual(['promotion.approve', 'promotion.reject']);
    expect(JSON.parse(buttons.elements[0].value)).toEqual({ p: p.id, d: p.digest, e: expect.stringMatching(/^sha256:/) });
  });
});

describe('approving from Slack', () => {
  it('records approvals to quorum through the same rule as the API, updates the message and drops the buttons', async () => {
    const pushed = await pushImage({ url: `http://${registryHost()}` }, 'dev/slackapp', { tag: '1.0.0' });
    const p = await requestPromotion('staging', await devImage('slackapp', pushed.digest));
    const value = await buttonValue(p.id);

    const first = click('U0ALICE', value);
    const res = await first;
    expect(res.status).toBe(200);
    await eventually(async () => (await approvals(p.id)).length === 1);
    expect(await approvals(p.id)).toEqual([{ approver_id: 'slack:U0ALICE', decision: 'approve', channel: 'slack' }]);
    expect(await ephemeral(first.responseUrl)).toMatchObject({
      response_type: 'ephemeral',
      replace_original: false,
      text: expect.stringMatching(/Recorded your approval as alice; 1 more approval/),
    });
    const { message } = await approvalMessage(p.id);
    await eventually(async () => JSON.stringify(message().blocks).includes('1 of 2 (alice)'));
    expect(actionsOf(message().blocks)).toBeDefined();

    const second = click('U0BOB', value);
    expect((await second).status).toBe(200);
    await eventually(async () => (await status(p.id)) === 'promoted', 20_000);
    expect(await approvals(p.id)).toEqual([
      { approver_id: 'slack:U0ALICE', decision: 'approve', channel: 'slack' },
      { approver_id: 'slack:U0BOB', decision: 'approve', channel: 'slack' },
    ]);
    // The audit records the Slack decisions like REST ones: actor, action, and via: slack.
    const { rows } = await t.db.query(
      `SELECT actor, action, data->>'via' AS via FROM audit_events WHERE subject = $1 AND action LIKE 'approval.%' ORDER BY seq`,
      [`promotion:${p.id}`],
    );
    expect(rows).toEqual([
      { actor: 'slack:U0ALICE', action: 'approval.approve', via: 'slack' },
      { actor: 'slack:U0BOB', action: 'approval.approve', via: 'slack' },
    ]);
    // The message ends showing the promotion done, with no buttons left to click.
    await eventually(async () => JSON.stringify(message().blocks).includes('promoted'));
    expect(actionsOf(message().blocks)).toBeUndefined();
    expect(JSON.stringify(message().blocks)).toContain('2 of 2 (alice, bob)');
    expect(slack.ok('chat.update').filter(about(p.id)).length).toBeGreaterThanOrEqual(2);
    // And a notice that it was promoted.
    await eventually(async () => slack.ok('chat.postMessage').some((c) => about(p.id)(c) && c.args.text.endsWith(': promoted')));
  });

  it('a rejection ends the promotion and the message says so, without buttons', async () => {
    const p = await requestPromotion('staging');
    const value = await buttonValue(p.id, 'promotion.reject');
    const res = click('U0CAROL', value, { action: 'promotion.reject' });
    expect((await res).status).toBe(200);
    await eventually(async () => (await status(p.id)) === 'rejected');
    expect(await approvals(p.id)).toEqual([{ approver_id: 'slack:U0CAROL', decision: 'reject', channel: 'slack' }]);
    const { message } = await approvalMessage(p.id);
    await eventually(async () => JSON.stringify(message().blocks).includes('rejected by carol'));
    expect(actionsOf(message().blocks)).toBeUndefined();

    // The old message's button, clicked later, changes nothing.
    const late = click('U0ALICE', value);
    expect((await late).status).toBe(200);
    expect((await ephemeral(late.responseUrl)).text).toMatch(
      /This promotion is rejected; decisions are taken only while it awaits approval/,
    );
    expect(await approvals(p.id)).toHaveLength(1);
  });

  it('a double click counts once', async () => {
    const p = await requestPromotion('staging');
    const value = await buttonValue(p.id);
    const clicks = [click('U0ALICE', value), click('U0ALICE', value)];
    const answers = await Promise.all(clicks);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    const replies = await Promise.all(clicks.map((c) => ephemeral(c.responseUrl)));
    const texts = replies.map((r) => r.text).sort();
    expect(texts[0]).toMatch(/^Recorded your approval as alice/);
    expect(texts[1]).toMatch(/^You have already decided on this promotion; your decision counts once/);
    expect(await approvals(p.id)).toEqual([{ approver_id: 'slack:U0ALICE', decision: 'approve', channel: 'slack' }]);
    expect(await status(p.id)).toBe('awaiting_approval');
  });

  it('maps a Slack user by e-mail through users.info when lookupByEmail is on', async () => {
    const p = await requestPromotion('hotfix');
    const value = await buttonValue(p.id);
    const res = click('U0DAVE', value);
    expect((await res).status).toBe(200);
    await eventually(async () => (await approvals(p.id)).length === 1);
    expect(await approvals(p.id)).toEqual([{ approver_id: 'slack:U0DAVE', decision: 'approve', channel: 'slack' }]);
    expect(slack.calls.some((c) => c.method === 'users.info' && c.args.user === 'U0DAVE')).toBe(true);
  });
});

describe('clicks that change nothing get an ephemeral reason', () => {
  let id: string;
  let value: string;
  beforeAll(async () => {
    const p = await requestPromotion('staging');
    id = p.id;
    value = await buttonValue(id);
  });

  it.each([
    ['an unmapped Slack user', 'U0NOBODY', /is not mapped to a promoter principal/],
    [
      'a user without an approving role',
      'U0AUDREY',
      /You do not hold a role that may decide here \(it needs one of these roles: release-manager\)/,
    ],
    ['the requester approving their own promotion', 'U0CIBOT', /You requested this promotion; someone else has to decide/],
  ])('%s', async (_what, user, reason) => {
    const c = click(user, value);
    expect((await c).status).toBe(200);
    const reply = await ephemeral(c.responseUrl);
    expect(reply).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(reason) });
    expect(await approvals(id)).toEqual([]);
  });

  it('the same person approving through the API and then Slack', async () => {
    const aliceToken = await t.token('alice', ['release-manager']);
    const p = await requestPromotion('staging');
    const button = await buttonValue(p.id);
    const rest = await t.api().post(`/api/v1/promotions/${p.id}/approvals`).set(auth(aliceToken)).send({ decision: 'approve' });
    expect(rest.status).toBe(201);
    const c = click('U0ALICE', button);
    expect((await c).status).toBe(200);
    expect((await ephemeral(c.responseUrl)).text).toMatch(/already decided on this promotion as alice through the API or the CLI/);
    expect(await approvals(p.id)).toEqual([{ approver_id: expect.stringMatching(/^token:/), decision: 'approve', channel: 'api' }]);

    // And the other way round: a Slack approval first, then the same person's token over REST.
    const p2 = await requestPromotion('staging');
    const first = click('U0ALICE', await buttonValue(p2.id));
    expect((await first).status).toBe(200);
    expect((await ephemeral(first.responseUrl)).text).toMatch(/^Recorded your approval as alice/);
    const again = await t.api().post(`/api/v1/promotions/${p2.id}/approvals`).set(auth(aliceToken)).send({ decision: 'approve' });
    expect(again.status).toBe(409);
    expect(again.body.details.code).toBe('duplicate_decision');
    expect(await approvals(p2.id)).toEqual([{ approver_id: 'slack:U0ALICE', decision: 'approve', channel: 'slack' }]);
    expect(await status(p2.id)).toBe('awaiting_approval');
  });

  it('a Slack user is the person of their verified e-mail address, whatever principal the config names', async () => {
    const erinToken = (
      await t
        .api()
        .post('/api/v1/tokens')
        .set(auth(t.bootstrapToken))
        .send({ name: 'erin-laptop', roles: ['release-manager'], owner: 'Erin@Example.com' })
    ).body.token;
    const p = await requestPromotion('staging');
    const button = await buttonValue(p.id);
    expect((await t.api().post(`/api/v1/promotions/${p.id}/approvals`).set(auth(erinToken)).send({ decision: 'approve' })).status).toBe(
      201,
    );
    const c = click('U0ERIN', button);
    expect((await c).status).toBe(200);
    expect((await ephemeral(c.responseUrl)).text).toMatch(
      /already decided on this promotion as erin@example.com through the API or the CLI/,
    );
    expect(await approvals(p.id)).toEqual([{ approver_id: expect.stringMatching(/^token:/), decision: 'approve', channel: 'api' }]);

    // An address Slack has not confirmed stands for nobody: the user is only the configured principal.
    const frankToken = (
      await t
        .api()
        .post('/api/v1/tokens')
        .set(auth(t.bootstrapToken))
        .send({ name: 'frank-laptop', roles: ['release-manager'], owner: 'frank@example.com' })
    ).body.token;
    const p2 = await requestPromotion('staging');
    const button2 = await buttonValue(p2.id);
    expect((await t.api().post(`/api/v1/promotions/${p2.id}/approvals`).set(auth(frankToken)).send({ decision: 'approve' })).status).toBe(
      201,
    );
    const c2 = click('U0FRANK', button2);
    expect((await c2).status).toBe(200);
    expect((await ephemeral(c2.responseUrl)).text).toMatch(/^Recorded your approval as frank-slack/);
    const { rows } = await t.db.query(
      `SELECT data->'actor' AS actor FROM audit_events WHERE action = 'approval.approve' AND subject = $1 ORDER BY at`,
      [`promotion:${p2.id}`],
    );
    expect(rows.map((r) => r.actor)).toEqual([
      { person: 'frank@example.com', name: 'frank-laptop', kind: 'person', credential: 'token' },
      { person: 'frank-slack', name: 'frank-slack', kind: 'person', credential: 'slack' },
    ]);
  });

  it('a stale digest', async () => {
    const stale = JSON.stringify({ ...JSON.parse(value), d: digest() });
    const c = click('U0ALICE', stale);
    expect((await c).status).toBe(200);
    expect((await ephemeral(c.responseUrl)).text).toMatch(/This message is stale/);
    expect(await approvals(id)).toEqual([]);
    expect(await status(id)).toBe('awaiting_approval');
  });
});

describe('requests not signed by Slack are refused before anything is read', () => {
  let id: string;
  let value: string;
  beforeAll(async () => {
    const p = await requestPromotion('staging');
    id = p.id;
    value = await buttonValue(id);
  });

  it.each<[string, ClickOptions, RegExp]>([
    ['a forged body (signature of another payload)', { tamper: (b) => b.replace('U0ALICE', 'U0BOB') }, /does not match/],
    ['the wrong signing secret', { secret: 'not-the-signing-secret' }, /does not match/],
    ['a replayed request (timestamp ten minutes old)', { timestamp: Math.floor(Date.now() / 1000) - 600 }, /five minutes/],
    ['a timestamp from the future', { timestamp: Math.floor(Date.now() / 1000) + 600 }, /five minutes/],
  ])('%s → 401', async (_what, options, reason) => {
    const c = click('U0ALICE', value, options);
    const res = await c;
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ statusCode: 401, message: expect.stringMatching(reason) });
    await new Promise((r) => setTimeout(r, 200));
    expect(slack.responses.some((r) => r.path === new URL(c.responseUrl).pathname)).toBe(false);
    expect(await approvals(id)).toEqual([]);
  });

  it('no signature headers at all → 401; a JSON body → 400', async () => {
    const none = await t
      .api()
      .post('/api/v1/slack/interactions')
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send('payload=%7B%7D');
    expect(none.status).toBe(401);
    const json = await t.api().post('/api/v1/slack/interactions').send({ payload: {} });
    expect(json.status).toBe(400);
    expect(await approvals(id)).toEqual([]);
  });
});

describe('Slack being down', () => {
  it('errors and 429s never hold up a promotion; the message is posted once Slack answers', async () => {
    slack.failNext('chat.postMessage', { error: 'internal_error' }, { rateLimited: { retryAfter: 1 } });
    const pushed = await pushImage({ url: `http://${registryHost()}` }, 'dev/flaky', { tag: '1.0.0' });
    const p = await requestPromotion('hotfix', await devImage('flaky', pushed.digest));
    expect(p.status).toBe('awaiting_approval');
    const approved = await t.api().post(`/api/v1/promotions/${p.id}/approvals`).set(auth(rm)).send({ decision: 'approve' });
    expect(approved.status).toBe(201);
    expect(approved.body.status).toBe('approved');
    await eventually(async () => (await status(p.id)) === 'promoted', 20_000);

    // The failed tries were made and answered as Slack would; the job tried again and got through.
    const tries = slack.calls.filter((c) => c.method === 'chat.postMessage');
    expect(tries.some((c) => c.error === 'internal_error')).toBe(true);
    expect(tries.some((c) => c.status === 429)).toBe(true);
    const { message } = await approvalMessage(p.id);
    await eventually(async () => JSON.stringify(message().blocks).includes('promoted'), 20_000);
    expect(actionsOf(message().blocks)).toBeUndefined();
    // The REST approval shows as one, with its channel.
    expect(await approvals(p.id)).toEqual([{ approver_id: expect.stringMatching(/^token:/), decision: 'approve', channel: 'api' }]);
  });
});

describe('catching up on lost notify jobs', () => {
  it('posts a missing approval message and updates one left behind, from what the database says', async () => {
    const missing = await requestPromotion('staging');
    const behind = await requestPromotion('hotfix');
    await approvalMessage(missing.id);
    const { message } = await approvalMessage(behind.id);
    // As if Redis lost the jobs: no message recorded for one, an older state shown for the other.
    await t.db.query('DELETE FROM slack_messages WHERE promotion_id = $1', [missing.id]);
    await t.db.query("UPDATE slack_messages SET status = 'evaluating' WHERE promotion_id = $1", [behind.id]);
    await t.db.query("UPDATE promotions SET updated_at = now() - interval '1 minute' WHERE id = ANY($1)", [[missing.id, behind.id]]);
    const postsBefore = slack.ok('chat.postMessage').filter(about(missing.id)).length;
    const updatesBefore = slack.ok('chat.update').filter(about(behind.id)).length;

    const notify = t.app.get(NotifyService);
    // At least these two (a slow run may have others' messages still catching up).
    expect(await notify.catchUp()).toBeGreaterThanOrEqual(2);
    await eventually(async () => slack.ok('chat.postMessage').filter(about(missing.id)).length === postsBefore + 1);
    await eventually(async () => slack.ok('chat.update').filter(about(behind.id)).length === updatesBefore + 1);
    expect(actionsOf(message().blocks)).toBeDefined();
    const { rows } = await t.db.query(
      'SELECT promotion_id, status FROM slack_messages WHERE promotion_id = ANY($1) ORDER BY promotion_id',
      [[missing.id, behind.id]],
    );
    expect(rows.map((r) => r.status)).toEqual(['awaiting_approval', 'awaiting_approval']);
  });
});

describe('gate failures and webhooks', () => {
  it('a blocked promotion is announced in its channel, with no approval message', async () => {
    const res = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('vuln'), target: 'gated' });
    expect(res.status).toBe(202);
    const id = res.body.id;
    await eventually(async () => (await status(id)) === 'blocked');
    const notice = await eventually(async () => slack.ok('chat.postMessage').find(about(id)));
    expect(notice.args.channel).toBe('C0GATED');
    expect(JSON.stringify(notice.args.blocks)).toContain('2 critical vulnerabilities');
    expect(notice.args.text).toMatch(/: blocked$/);
    expect(slack.ok('chat.postMessage').filter(about(id))).toHaveLength(1);
  });

  it('subscribed events reach the webhook, signed with its secret', async () => {
    const p = await requestPromotion('hotfix');
    const delivery = await eventually(async () =>
      hooks.received.find((r) => r.body.includes(p.id) && r.headers['x-promoter-event'] === 'promotion.awaiting_approval'),
    );
    const body = JSON.parse(delivery.body);
    expect(body).toMatchObject({
      event: 'promotion.awaiting_approval',
      promotion: { id: p.id, status: 'awaiting_approval', target: 'hotfix' },
    });
    expect(delivery.headers['x-promoter-delivery']).toBe(body.deliveryId);
    expect(delivery.headers['x-promoter-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(
      verifyWebhookSignature(
        WEBHOOK_SECRET,
        delivery.headers['x-promoter-timestamp']!,
        delivery.body,
        delivery.headers['x-promoter-signature']!,
      ),
    ).toBe(true);
    expect(
      verifyWebhookSignature(
        'another-secret',
        delivery.headers['x-promoter-timestamp']!,
        delivery.body,
        delivery.headers['x-promoter-signature']!,
      ),
    ).toBe(false);
    // Not subscribed: a rejection sends nothing.
    await t.api().post(`/api/v1/promotions/${p.id}/approvals`).set(auth(rm)).send({ decision: 'reject' });
    await eventually(async () => (await status(p.id)) === 'rejected');
    await new Promise((r) => setTimeout(r, 500));
    expect(hooks.received.filter((r) => r.body.includes(p.id)).map((r) => r.headers['x-promoter-event'])).toEqual([
      'promotion.awaiting_approval',
    ]);
  });
});

describe("new vulnerability findings on a promoted image (the scan watcher's scan-new-findings job)", () => {
  const noticeFor = (p: { id: string; digest: string }, environment: string) => ({
    promotionId: p.id,
    environment,
    image: `${registryHost()}/${environment}/web@${p.digest}`,
    digest: p.digest,
    failOn: 'critical',
    importId: '7',
    dbImportedAt: new Date().toISOString(),
    findings: [
      {
        id: 'CVE-2026-4242',
        package: 'openssl',
        installedVersion: '3.0.11-1~deb12u1',
        fixedVersion: '3.0.11-1~deb12u2',
        severity: 'critical',
        source: 'builtin',
      },
    ],
  });
  const isNotice = (env: string, id: string) => (c: SlackCall) =>
    c.args.blocks?.[0]?.text?.text === `New vulnerabilities in ${env}` && about(id)(c);

  it("posts the notice in the environment's channel only; a webhook not subscribed to scan.new_findings gets nothing", async () => {
    const p = await requestPromotion('hotfix');
    const notify = t.app.get(NotifyService);
    expect(await notify.notifyNewFindings(noticeFor(p, 'hotfix'))).toBe('Slack notice posted');
    const posted = slack.ok('chat.postMessage').filter(isNotice('hotfix', p.id));
    expect(posted.map((c) => c.args.channel)).toEqual(['C0HOTFIX']);
    expect(JSON.stringify(posted[0]!.args.blocks)).toContain('• *CVE-2026-4242* (critical) `openssl` 3.0.11-1~deb12u1 → 3.0.11-1~deb12u2');
    // An environment with no channel: nothing is posted anywhere.
    expect(await notify.notifyNewFindings(noticeFor(p, 'dev'))).toBe('no Slack channel for dev');
    expect(slack.ok('chat.postMessage').filter(isNotice('dev', p.id))).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(hooks.received.filter((r) => r.headers['x-promoter-event'] === 'scan.new_findings')).toEqual([]);
  });

  it('a malformed job fails at once with the reason, and the worker carries on', async () => {
    const queue = new Queue('notify', { connection: { url: t.config.process.redisUrl! }, prefix: t.config.process.redisPrefix });
    try {
      const job = await queue.add('scan-new-findings', { promotionId: 'not-a-uuid', findings: 'none' }, { attempts: 3 });
      // Read the job after it is seen failed: a copy read before may predate its failedReason.
      const failed = await eventually(async () => (await queue.getJobState(job.id!)) === 'failed' && queue.getJob(job.id!));
      expect(failed.failedReason).toMatch(/^malformed notify job/);
      expect(failed.attemptsMade).toBe(1);
    } finally {
      await queue.close();
    }
    const p = await requestPromotion('hotfix');
    await approvalMessage(p.id);
  });
});
