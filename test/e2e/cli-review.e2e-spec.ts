import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/cli/src/cli.js';
import { devImage, startTestApp, testPipeline, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let url: string;

async function promoctl(args: string[], token: string) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env: { PROMOTER_URL: url, PROMOTER_TOKEN: token },
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  t = await startTestApp({
    pipeline:
      testPipeline() +
      `
  - name: reviewed
    from: dev
    repository: local/reviewed/{app}
    approvals: { required: 1, roles: [release-manager] }
    reviews: [security]
`,
  });
  await t.http.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(t.http.getHttpServer().address() as AddressInfo).port}`;
});
afterAll(() => t?.close());

describe('promoctl review', () => {
  it('records the review an environment demands, through the same rule as the API', async () => {
    const ci = await t.token('ci', ['ci']);
    const sam = await t.token('sam', ['security-reviewer']);
    const rm = await t.token('rm', ['release-manager']);
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set('Authorization', `Bearer ${ci}`)
      .send({ image: await devImage('reviewed'), target: 'reviewed' });
    const id = created.body.id;

    const usage = await promoctl(['review', id, '--kind', 'security', '--verdict', 'maybe'], sam);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("expected 'approve' or 'reject'");
    const notNeeded = await promoctl(['review', id, '--kind', 'legal', '--verdict', 'approve'], sam);
    expect(notNeeded.code).toBe(2);
    expect(notNeeded.stderr).toContain('a legal review is not required here');
    const wrongRole = await promoctl(['review', id, '--kind', 'security', '--verdict', 'approve'], rm);
    expect(wrongRole.code).toBe(2);
    expect(wrongRole.stderr).toContain('403');

    const reviewed = await promoctl(['review', id, '--kind', 'security', '--verdict', 'approve', '--notes', 'no findings'], sam);
    expect(reviewed.code).toBe(0);
    expect(reviewed.stdout).toContain(`approved the security review of promotion ${id}; status: awaiting_approval`);
    expect(reviewed.stdout).toContain('still needed: 1 more approval from release-manager');

    const shown = (await t.api().get(`/api/v1/promotions/${id}`).set('Authorization', `Bearer ${ci}`)).body;
    expect(shown.reviews).toEqual([
      expect.objectContaining({
        kind: 'security',
        verdict: 'approve',
        notes: 'no findings',
        via: 'cli',
        counts: true,
        reviewer: expect.objectContaining({ name: 'sam' }),
      }),
    ]);
    expect(shown.approval.missingReviews).toEqual([]);
    const { rows } = await t.db.query(
      `SELECT actor, data->>'via' AS via FROM audit_events WHERE action = 'review.approve' AND subject = $1`,
      [`promotion:${id}`],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].via).toBe('cli');
  });
});
