import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateContext, GateVerdict } from '#libs/workflow/index.js';
import { devImage, eventually, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';
import { pushImage } from '../helpers/images.js';

/** An image whose manifest the registry holds (the request is accepted) but whose blobs it lost. */
async function unreadableImage(app: string): Promise<string> {
  const url = `http://${registryHost()}`;
  const pushed = await pushImage({ url }, `dev/${app}`, { layers: 1, layerSize: 64 });
  for (const blob of [pushed.config, ...pushed.layers]) {
    const res = await fetch(`${url}/v2/dev/${app}/blobs/${blob.digest}`, { method: 'DELETE' });
    expect(res.status).toBe(202);
  }
  return `${registryHost()}/dev/${app}@${pushed.digest}`;
}

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('gates that cannot read the image', () => {
  let t: TestApp;
  let ci: string;
  let rm: string;
  beforeAll(async () => {
    t = await startTestApp();
    ci = await t.token('ci', ['ci']);
    rm = await t.token('rm', ['release-manager']);
  });
  afterAll(() => t?.close());

  it('fail closed with status error, block the promotion, and do so again on re-evaluation', async () => {
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await unreadableImage('gated'), target: 'gated' });
    expect(created.status).toBe(202);
    expect(created.body.gates.map((g: { gate: string; status: string }) => [g.gate, g.status])).toEqual([
      ['policy', 'pending'],
      ['scan', 'pending'],
    ]);
    const id = created.body.id;
    const blocked = await eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
      return res.body.status === 'blocked' && res.body;
    });
    for (const gate of blocked.gates) {
      expect(gate.status).toBe('error');
      // Both gates are implemented: they fail closed because the registry lost the image's blobs.
      expect(gate.summary).toContain(gate.gate === 'policy' ? "the image's facts could not be read" : 'the built-in scanner cannot read');
    }
    // The gate that could not run is the promotion's last error, for every reader.
    const failing = blocked.gates.find((g: { gate: string }) => `gate:${g.gate}` === blocked.lastError?.step);
    expect(failing).toBeDefined();
    expect(blocked.lastError).toMatchObject({ message: failing.summary, attempt: 1 });
    const approve = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm)).send({ decision: 'approve' });
    expect(approve.status).toBe(409);

    expect((await t.api().post(`/api/v1/promotions/${id}/reevaluate`).set(auth(ci))).status).toBe(403);
    const again = await t.api().post(`/api/v1/promotions/${id}/reevaluate`).set(auth(rm));
    expect(again.status).toBe(202);
    expect(again.body.round).toBe(2);
    const reblocked = await eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
      return res.body.status === 'blocked' && res.body.round === 2 && res.body;
    });
    expect(reblocked.gates.every((g: { round: number; status: string }) => g.round === 2 && g.status === 'error')).toBe(true);
    const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE subject = $1 AND action = 'promotion.blocked'`, [
      `promotion:${id}`,
    ]);
    expect(rows[0].n).toBe(2);
  });
});

describe('approvals bound to the gate evidence', () => {
  let t: TestApp;
  let ci: string;
  let rm1: string;
  let rm2: string;
  // The test decides what the gates say; the mechanism around them is the real one.
  const verdicts = new Map<string, GateVerdict>();
  const handler = async ({ promotion }: GateContext): Promise<GateVerdict> =>
    verdicts.get(promotion.id) ?? { status: 'passed', summary: 'clean', evidence: { findings: 0 } };

  beforeAll(async () => {
    t = await startTestApp({ gateHandlers: { scan: handler, policy: handler } });
    ci = await t.token('ci', ['ci']);
    rm1 = await t.token('rm1', ['release-manager']);
    rm2 = await t.token('rm2', ['release-manager']);
  });
  afterAll(() => t?.close());

  async function settled(id: string, status: string, round: number) {
    return eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
      return res.body.status === status && res.body.round === round && res.body;
    });
  }

  it('keep counting when re-evaluation gives the same evidence, and stop when it changes', async () => {
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('bound'), target: 'gated' });
    const id = created.body.id;
    const ready = await settled(id, 'awaiting_approval', 1);
    expect(ready.evidenceDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ready.gates.every((g: { status: string }) => g.status === 'passed')).toBe(true);

    const first = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm1)).send({ decision: 'approve' });
    expect(first.body.approvals[0]).toMatchObject({ evidenceDigest: ready.evidenceDigest, counts: true });

    await t.api().post(`/api/v1/promotions/${id}/reevaluate`).set(auth(rm2)).expect(202);
    const same = await settled(id, 'awaiting_approval', 2);
    expect(same.evidenceDigest).toBe(ready.evidenceDigest);
    expect(same.approval.needed).toBe(1);

    verdicts.set(id, { status: 'passed', summary: 'clean, rescanned', evidence: { findings: 0, database: '2026-11-24' } });
    await t.api().post(`/api/v1/promotions/${id}/reevaluate`).set(auth(rm2)).expect(202);
    const changed = await settled(id, 'awaiting_approval', 3);
    expect(changed.evidenceDigest).not.toBe(ready.evidenceDigest);
    expect(changed.approval).toMatchObject({ needed: 2, stale: 1, approvers: [] });
    expect(changed.approvals[0].counts).toBe(false);

    // An approval naming the evidence its approver looked at is refused once that evidence is gone.
    const before = await t.db.query('SELECT count(*)::int AS n FROM approvals WHERE promotion_id = $1', [id]);
    const outdated = await t
      .api()
      .post(`/api/v1/promotions/${id}/approvals`)
      .set(auth(rm1))
      .send({ decision: 'approve', evidenceDigest: ready.evidenceDigest });
    expect(outdated.status).toBe(409);
    expect(outdated.body.message).toContain('the evidence changed since you looked');
    expect(outdated.body.details).toMatchObject({ code: 'evidence_changed', seen: ready.evidenceDigest, current: changed.evidenceDigest });
    expect((await t.db.query('SELECT count(*)::int AS n FROM approvals WHERE promotion_id = $1', [id])).rows).toEqual(before.rows);
    const malformed = await t
      .api()
      .post(`/api/v1/promotions/${id}/approvals`)
      .set(auth(rm1))
      .send({ decision: 'approve', evidenceDigest: 'sha256:nope' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toContain('evidenceDigest');

    // The same approver may approve again, on the new evidence.
    const renewed = await t
      .api()
      .post(`/api/v1/promotions/${id}/approvals`)
      .set(auth(rm1))
      .send({ decision: 'approve', evidenceDigest: changed.evidenceDigest });
    expect(renewed.status).toBe(201);
    expect(renewed.body.approval.needed).toBe(1);
    const done = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm2)).send({ decision: 'approve' });
    expect(done.body.status).toBe('approved');
  });

  it('blocks on a failed gate and records its evidence', async () => {
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('vuln'), target: 'gated' });
    verdicts.set(created.body.id, { status: 'failed', summary: '1 critical', evidence: { critical: ['CVE-2026-0001'] } });
    // The first round may have been evaluated before the verdict was set; a re-evaluation settles it.
    const first = await eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
      return ['blocked', 'awaiting_approval'].includes(res.body.status) && res.body;
    });
    if (first.status === 'awaiting_approval')
      await t.api().post(`/api/v1/promotions/${created.body.id}/reevaluate`).set(auth(rm1)).expect(202);
    const blocked = await eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
      return res.body.status === 'blocked' && res.body;
    });
    expect(blocked.gates.find((g: { gate: string }) => g.gate === 'scan')).toMatchObject({
      status: 'failed',
      summary: '1 critical',
      evidence: { critical: ['CVE-2026-0001'] },
    });
  });
});

describe('the policy gate', () => {
  it('starts only once the other gates of its round have reported, so its rules always see their results', async () => {
    let releaseScan!: () => void;
    const scanMayFinish = new Promise<void>((r) => (releaseScan = r));
    const order: string[] = [];
    const scan = async (): Promise<GateVerdict> => {
      order.push('scan started');
      await scanMayFinish;
      order.push('scan reported');
      return { status: 'passed', summary: 'clean', evidence: { counts: { critical: 0 } } };
    };
    const policy = async (): Promise<GateVerdict> => {
      order.push('policy started');
      return { status: 'passed', summary: 'ok', evidence: {} };
    };
    const t = await startTestApp({ gateHandlers: { scan, policy } });
    try {
      const ci = await t.token('ci', ['ci']);
      const created = await t
        .api()
        .post('/api/v1/promotions')
        .set(auth(ci))
        .send({ image: await devImage('ordered'), target: 'gated' });
      await eventually(async () => order.includes('scan started'));
      // However long the scan takes, the policy gate waits for it.
      await new Promise((r) => setTimeout(r, 500));
      expect(order).toEqual(['scan started']);
      const waiting = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
      expect(waiting.body.gates.map((g: { gate: string; status: string }) => [g.gate, g.status])).toEqual([
        ['policy', 'pending'],
        ['scan', 'pending'],
      ]);
      releaseScan();
      const ready = await eventually(async () => {
        const res = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
        return res.body.status === 'awaiting_approval' && res.body;
      });
      expect(order).toEqual(['scan started', 'scan reported', 'policy started']);
      expect(ready.gates.every((g: { status: string }) => g.status === 'passed')).toBe(true);
    } finally {
      releaseScan();
      await t.close();
    }
  });
});
