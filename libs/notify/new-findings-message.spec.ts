import { describe, expect, it } from 'vitest';
import type { NewFindingsJobData } from '#libs/workflow/index.js';
import { NEW_FINDINGS_SHOWN, newFindingsMessage } from './new-findings-message.js';
import { newFindingsJobSchema } from './notify-jobs.js';

const DIGEST = 'sha256:' + 'ab'.repeat(32);

function notice(over: Partial<NewFindingsJobData> = {}): NewFindingsJobData {
  return {
    promotionId: '0b7c3d4e-1111-4222-8333-944455566677',
    environment: 'prod',
    image: `registry.local/prod/web@${DIGEST}`,
    digest: DIGEST,
    failOn: 'high',
    importId: '42',
    dbImportedAt: '2026-11-24T10:00:00.000Z',
    findings: [
      {
        id: 'GHSA-xvch-5gv4-984h',
        package: 'minimist',
        installedVersion: '1.2.5',
        fixedVersion: '1.2.6',
        severity: 'high',
        source: 'builtin',
      },
      {
        id: 'CVE-2026-0001',
        package: 'openssl',
        installedVersion: '3.0.11-1~deb12u1',
        fixedVersion: null,
        severity: 'critical',
        source: 'builtin',
      },
    ],
    ...over,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sectionTexts = (blocks: any[]) => blocks.filter((b) => b.type === 'section' && b.text).map((b) => b.text.text as string);

describe('the new-findings notice', () => {
  it('shows the image with its short digest, the environment, the threshold and each finding worst first with installed → fixed version', () => {
    const { text, blocks } = newFindingsMessage(notice());
    expect(text).toBe('2 new blocking vulnerability findings in registry.local/prod/web@abababababab (prod)');
    expect(blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'New vulnerabilities in prod' } });
    expect(blocks[1]!.fields.map((f: { text: string }) => f.text)).toEqual([
      '*Image*\n`registry.local/prod/web@sha256:abababababab`',
      '*Environment*\nprod',
      '*Blocks at*\nhigh and above',
      '*Database imported*\n2026-11-24T10:00:00.000Z',
    ]);
    const [list] = sectionTexts(blocks);
    expect(list!.split('\n')).toEqual([
      ':rotating_light: *2 new blocking findings* the scan gate would refuse today:',
      '• *CVE-2026-0001* (critical) `openssl` 3.0.11-1~deb12u1 (no fixed version yet)',
      '• *GHSA-xvch-5gv4-984h* (high) `minimist` 1.2.5 → 1.2.6',
    ]);
    expect(blocks.at(-1)).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'promotion `0b7c3d4e-1111-4222-8333-944455566677` · vulnerability database import 42' }],
    });
  });

  it('says what to do in plain text, without a link', () => {
    const { blocks } = newFindingsMessage(notice());
    const advice = blocks.find((b) => b.type === 'section' && b.text?.type === 'plain_text')!;
    expect(advice.text.text).toContain('the promotion is not undone');
    expect(advice.text.text).toContain('waive each finding');
    expect(advice.text.text).toContain('promote it to prod');
    expect(JSON.stringify(blocks)).not.toMatch(/https?:\/\/|<http/);
  });

  it(`lists at most ${NEW_FINDINGS_SHOWN} findings and counts the rest`, () => {
    const findings = Array.from({ length: 25 }, (_, i) => ({
      id: `CVE-2026-${String(i).padStart(4, '0')}`,
      package: `pkg${i}`,
      installedVersion: '1.0.0',
      fixedVersion: '1.0.1',
      severity: i === 24 ? 'critical' : 'high',
      source: 'builtin',
    }));
    const { text, blocks } = newFindingsMessage(notice({ findings }));
    expect(text).toContain('25 new blocking vulnerability findings');
    const lines = sectionTexts(blocks)[0]!.split('\n');
    expect(lines.filter((l) => l.startsWith('• '))).toHaveLength(NEW_FINDINGS_SHOWN);
    expect(lines[1]).toContain('CVE-2026-0024'); // the critical one comes first
    expect(lines.at(-1)).toBe(`…and ${25 - NEW_FINDINGS_SHOWN} more.`);
  });

  it('escapes Slack markup in package names and ids, so a crafted advisory cannot add mentions or links', () => {
    const { blocks } = newFindingsMessage(
      notice({
        findings: [
          {
            id: '<!channel>',
            package: 'evil<https://x.test|click>',
            installedVersion: '1 & 2',
            fixedVersion: null,
            severity: 'critical',
            source: 'builtin',
          },
        ],
      }),
    );
    const list = sectionTexts(blocks)[0]!;
    expect(list).toContain('*&lt;!channel&gt;*');
    expect(list).toContain('`evil&lt;https://x.test|click&gt;` 1 &amp; 2');
    expect(list).not.toContain('<!channel>');
    expect(newFindingsMessage(notice()).text).not.toContain('<');
  });

  it('the job schema takes what the scan watcher queues and refuses a malformed job', () => {
    expect(newFindingsJobSchema.safeParse(notice()).success).toBe(true);
    expect(newFindingsJobSchema.safeParse({ ...notice(), findings: [] }).success).toBe(false);
    expect(newFindingsJobSchema.safeParse({ ...notice(), promotionId: 'x' }).success).toBe(false);
    expect(newFindingsJobSchema.safeParse({ ...notice(), extra: 1 }).success).toBe(false);
  });
});
