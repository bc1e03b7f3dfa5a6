import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/cli/src/cli.js';
import { devImage, eventually, startTestApp, type TestApp, registryHost } from '../helpers/test-app.js';

let t: TestApp;
let url: string;

async function promoctl(args: string[], token?: string) {
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
  t = await startTestApp();
  await t.http.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(t.http.getHttpServer().address() as AddressInfo).port}`;
});
afterAll(() => t?.close());

describe('promoctl against the running service', () => {
  it('creates tokens, promotes, approves from the CLI, reports status and verifies the audit log', async () => {
    const created = await promoctl(['token', 'create', '--name', 'ci-main', '--role', 'ci', '--json'], t.bootstrapToken);
    expect(created.code).toBe(0);
    const ci = JSON.parse(created.stdout).token as string;
    const rm1 = JSON.parse(
      (await promoctl(['token', 'create', '--name', 'rm1', '--role', 'release-manager', '--json'], t.bootstrapToken)).stdout,
    ).token;
    const rm2 = JSON.parse(
      (await promoctl(['token', 'create', '--name', 'rm2', '--role', 'release-manager', '--json'], t.bootstrapToken)).stdout,
    ).token;
    const auditor = JSON.parse(
      (await promoctl(['token', 'create', '--name', 'aud', '--role', 'auditor', '--json'], t.bootstrapToken)).stdout,
    ).token;

    const human = await promoctl(['token', 'create', '--name', 'ops', '--role', 'ci,auditor'], t.bootstrapToken);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/pmt_[A-Za-z0-9_-]{43}/);

    const image = await devImage('cliapp');
    const promoted = await promoctl(['promote', '--image', image, '--to', 'staging', '--reason', 'from the cli', '--json'], ci);
    expect(promoted.code).toBe(0);
    const promotion = JSON.parse(promoted.stdout);
    expect(promotion).toMatchObject({ image, target: 'staging', status: 'awaiting_approval', reason: 'from the cli' });

    const first = await promoctl(['approve', promotion.id, '--comment', 'ok'], rm1);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('awaiting_approval');
    expect((await promoctl(['approve', promotion.id], rm2)).code).toBe(0);

    const status = await promoctl(['status', promotion.id, '--json'], ci);
    expect(status.code).toBe(0);
    const shown = JSON.parse(status.stdout);
    // Approved by the second approval; the worker may already have started the copy.
    expect(['approved', 'promoting', 'promoted', 'failed']).toContain(shown.status);
    expect(shown.approval.needed).toBe(0);
    expect(shown.approval.approvers).toHaveLength(2);
    expect(shown.approvals.map((a: { via: string }) => a.via)).toEqual(['cli', 'cli']);

    // The worker goes on with the approved promotion: verify once it is done (verify reads the chain
    // and its head in two statements, so an event appended in between reads as a broken end).
    await eventually(async () =>
      ['promoted', 'failed'].includes(
        (
          await t
            .api()
            .get(`/api/v1/promotions/${promotion.id}`)
            .set({ Authorization: `Bearer ${ci}` })
        ).body.status,
      ),
    );
    const verify = await promoctl(['audit', 'verify'], auditor);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/audit log intact: \d+ events/);
  });

  it('lists tokens without their secrets and revokes one', async () => {
    const made = JSON.parse(
      (
        await promoctl(
          ['token', 'create', '--name', 'short-lived', '--role', 'ci', '--owner', 'Sam@Example.com', '--expires', '7d', '--json'],
          t.bootstrapToken,
        )
      ).stdout,
    );
    expect(made.owner).toBe('Sam@Example.com');
    const days = (Date.parse(made.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
    const listed = await promoctl(['token', 'list'], t.bootstrapToken);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(
        `^${made.id}  short-lived  ci  created \\S+ by bootstrap  owner Sam@Example.com  expires ${made.expiresAt}  last used never  active$`,
        'm',
      ),
    );
    const tooLong = await promoctl(['token', 'create', '--name', 'forever', '--role', 'ci', '--expires', '3650d'], t.bootstrapToken);
    expect(tooLong.code).not.toBe(0);
    expect(tooLong.stderr).toContain('maxExpiry');
    expect(listed.stdout).not.toContain(made.token);

    const revoked = await promoctl(['token', 'revoke', made.id], t.bootstrapToken);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked token 'short-lived' (id ${made.id})`);
    const refused = await promoctl(['status', '00000000-0000-4000-8000-000000000000'], made.token);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('401');
    const json = JSON.parse((await promoctl(['token', 'list', '--json'], t.bootstrapToken)).stdout);
    expect(json.items.find((i: { id: string }) => i.id === made.id)).toMatchObject({
      revokedBy: 'bootstrap',
      revokedAt: expect.any(String),
    });
  });

  it('waits for a promotion and exits non-zero when it ends anywhere but promoted', async () => {
    const ci = JSON.parse(
      (await promoctl(['token', 'create', '--name', 'ci-wait', '--role', 'ci', '--json'], t.bootstrapToken)).stdout,
    ).token;
    const waited = await promoctl(
      ['promote', '--image', await devImage('waiter'), '--to', 'gated', '--wait', '--interval', '50ms', '--timeout', '20s'],
      ci,
    );
    expect(waited.code).toBe(1);
    expect(waited.stdout).toContain('blocked');

    const rejected = await promoctl(['promote', '--image', await devImage('rej'), '--to', 'staging', '--json'], ci);
    const id = JSON.parse(rejected.stdout).id;
    const rm = JSON.parse(
      (await promoctl(['token', 'create', '--name', 'rm-no', '--role', 'release-manager', '--json'], t.bootstrapToken)).stdout,
    ).token;
    expect((await promoctl(['reject', id, '--comment', 'no'], rm)).code).toBe(0);
    const status = await promoctl(['status', id], ci);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain('rejected');
  });

  it('reports API errors with the service message and exit code 2', async () => {
    const ci = JSON.parse(
      (await promoctl(['token', 'create', '--name', 'ci-err', '--role', 'ci', '--json'], t.bootstrapToken)).stdout,
    ).token;
    const bad = await promoctl(['promote', '--image', `${registryHost()}/dev/app:latest`, '--to', 'staging'], ci);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('422');
    expect(bad.stderr).toContain('does not exist in the registry');
    const missing = await promoctl(['approve', '7f1d8f7e-4a3b-4c2d-9e1f-0a1b2c3d4e5f'], ci);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('404');
    const otherCi = JSON.parse(
      (await promoctl(['token', 'create', '--name', 'ci-other', '--role', 'ci', '--json'], t.bootstrapToken)).stdout,
    ).token;
    const created = JSON.parse(
      (await promoctl(['promote', '--image', await devImage('forbid'), '--to', 'staging', '--json'], otherCi)).stdout,
    );
    const forbidden = await promoctl(['approve', created.id], ci);
    expect(forbidden.code).toBe(2);
    expect(forbidden.stderr).toContain('403');
    expect(forbidden.stderr).toContain('release-manager');
  });
});
