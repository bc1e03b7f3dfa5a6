import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FOREIGN_BODY,
  hostileImage,
  startForeignServer,
  startHostileRegistry,
  type ForeignServer,
  type HostileRegistry,
} from '../helpers/hostile-registry.js';
import { eventually, startTestApp, type TestApp } from '../helpers/test-app.js';

// The service against a registry that attacks it: redirects to another server, and answers one
// byte at a time. Gates end with a reason and a deadline; no credential leaves, no foreign body
// comes back to an API caller or into a gate summary.

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const creds = { username: 'robot', password: 'hostile-registry-secret' };

describe('a hostile registry', () => {
  let reg: HostileRegistry;
  let foreign: ForeignServer;
  let t: TestApp;
  let ci: string;
  let rm: string;

  beforeAll(async () => {
    reg = await startHostileRegistry({ basic: creds });
    foreign = await startForeignServer('forbidden');
    // Storage the registry may redirect to is listed, so the promoter does talk to it: what it
    // says must still stay out of errors, and the registry's credentials must stay home.
    t = await startTestApp({
      env: { HOSTILE_USER: creds.username, HOSTILE_PASS: creds.password },
      pipeline: `
registries:
  - name: hostile
    url: ${reg.url}
    auth: { type: basic, usernameEnv: HOSTILE_USER, passwordEnv: HOSTILE_PASS }
    redirects: [${foreign.host}]
gates:
  deadline: 3s
environments:
  - name: dev
    repository: hostile/dev/{app}
  - name: staging
    from: dev
    repository: hostile/staging/{app}
    gates:
      scan: { deadline: 2s }
      policy: { rules: [non-root] }
`,
    });
    ci = await t.token('ci', ['ci']);
    rm = await t.token('rm', ['release-manager']);
  });
  afterAll(async () => {
    await t?.close();
    await foreign?.stop();
    await reg?.stop();
  });

  async function settle(image: string) {
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image, target: 'staging', reason: 'hostile registry test' });
    expect(created.status).toBe(202);
    return eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
      return res.body.status !== 'pending' && res.body.status !== 'evaluating' && res.body;
    }, 30_000);
  }

  it('a redirect to storage that refuses: gates report an error by status, never its body; no credential reaches it', async () => {
    reg.modes['dev/redirected'] = { blobRedirect: `${foreign.url}/bucket/{digest}?X-Amz-Signature=sig` };

    const promotion = await settle(`${reg.host}/dev/redirected:v1`);

    expect(promotion.status).toBe('blocked');
    for (const gate of promotion.gates) {
      expect(gate.status, gate.gate).toBe('error');
      expect(gate.summary, gate.gate).toContain(`redirected to ${foreign.url}, which answered 403`);
      expect(JSON.stringify(gate), gate.gate).not.toContain(FOREIGN_BODY);
      expect(JSON.stringify(gate), gate.gate).not.toContain('X-Amz-Signature');
    }
    expect(foreign.seen.length).toBeGreaterThan(0);
    expect(foreign.seen.every((s) => s.authorization === null)).toBe(true);

    // The dry run answers the caller directly: the same refusal, by status only.
    const dry = await t
      .api()
      .post('/api/v1/policy/evaluate')
      .set(auth(ci))
      .send({ image: `${reg.host}/dev/redirected:v1`, target: 'staging' });
    expect(dry.status).toBe(502);
    expect(JSON.stringify(dry.body)).toContain('which answered 403');
    expect(JSON.stringify(dry.body)).not.toContain(FOREIGN_BODY);
  });

  it('a registry that sends one byte at a time: each gate ends at its deadline, the promotion is blocked, the connections are closed', async () => {
    const image = hostileImage('slowloris');
    reg.modes['dev/slowloris'] = { trickle: { intervalMs: 1_000 }, image };

    const promotion = await settle(`${reg.host}/dev/slowloris:v1`);

    expect(promotion.status).toBe('blocked');
    const byGate = Object.fromEntries(promotion.gates.map((g: { gate: string }) => [g.gate, g]));
    expect(byGate.scan).toMatchObject({ status: 'error', evidence: { error: 'deadline exceeded', deadlineMs: 2_000 } });
    expect(byGate.scan.summary).toContain('deadline of 2s (deadline exceeded)');
    // The policy gate has no deadline of its own: the pipeline's `gates.deadline` applies.
    expect(byGate.policy).toMatchObject({ status: 'error', evidence: { error: 'deadline exceeded', deadlineMs: 3_000 } });
    expect(reg.trickled()).toBeGreaterThan(0);
    // The abort reached the registry requests: nothing is left reading.
    await eventually(async () => reg.trickling() === 0, 10_000);

    // Blocked by a deadline is open to another round once the registry behaves.
    reg.modes['dev/slowloris'] = { image };
    const again = await t.api().post(`/api/v1/promotions/${promotion.id}/reevaluate`).set(auth(rm));
    expect(again.status).toBe(202);
  });
});
