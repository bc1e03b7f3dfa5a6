import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './app-config.js';
import { ConfigError } from './config-error.js';
import { parsePipeline } from './pipeline-config.js';

const BASE = `
registries:
  - name: local
    url: http://127.0.0.1:5000
environments:
  - name: dev
    repository: local/dev/{app}
  - name: staging
    from: dev
    repository: local/staging/{app}
    approvals: { required: 1, roles: [release-manager] }
`;

const SLACK = `
slack:
  botTokenEnv: SLACK_BOT_TOKEN
  signingSecretEnv: SLACK_SIGNING_SECRET
  channels: { staging: C0STAGING }
  users:
    U0ALICE: { principal: alice, roles: [release-manager] }
    bob@example.com: { principal: bob, roles: [release-manager] }
  lookupByEmail: true
webhooks:
  - url: https://hooks.example.com/promoter
    secretEnv: HOOK_SECRET
    events: [promotion.promoted, promotion.blocked]
`;

function issues(text: string): string[] {
  try {
    parsePipeline(text, 'promoter.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the pipeline to be refused');
}

function load(text: string, env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'notify-config-'));
  writeFileSync(join(dir, 'promoter.yaml'), text);
  return loadConfig({ PROMOTER_CONFIG: join(dir, 'promoter.yaml'), ...env });
}

describe('slack and webhooks in the pipeline file', () => {
  it('parses them with defaults', () => {
    const p = parsePipeline(BASE + SLACK);
    expect(p.slack).toEqual({
      botTokenEnv: 'SLACK_BOT_TOKEN',
      signingSecretEnv: 'SLACK_SIGNING_SECRET',
      apiUrl: 'https://slack.com/api/',
      channels: { staging: 'C0STAGING' },
      users: {
        U0ALICE: { principal: 'alice', roles: ['release-manager'] },
        'bob@example.com': { principal: 'bob', roles: ['release-manager'] },
      },
      lookupByEmail: true,
    });
    expect(p.webhooks).toEqual([
      { url: 'https://hooks.example.com/promoter', secretEnv: 'HOOK_SECRET', events: ['promotion.promoted', 'promotion.blocked'] },
    ]);
  });

  it('is optional', () => {
    const p = parsePipeline(BASE);
    expect(p.slack).toBeNull();
    expect(p.webhooks).toEqual([]);
  });

  it('names the key of each mistake', () => {
    expect(issues(BASE + SLACK.replace('channels: { staging: C0STAGING }', 'channels: { qa: C0QA }'))).toEqual([
      "slack.channels.qa: unknown environment 'qa' (known: dev, staging)",
    ]);
    expect(issues(BASE + SLACK.replace('U0ALICE:', 'alice:')).join('\n')).toMatch(/slack\.users\.alice.*Slack user id/);
    expect(issues(BASE + SLACK.replace('release-manager] }\n    bob', 'root] }\n    bob')).join('\n')).toMatch(
      /slack\.users\.U0ALICE\.roles\[0\]/,
    );
    expect(issues(BASE + SLACK.replace('botTokenEnv: SLACK_BOT_TOKEN', 'botTokenEnv: xoxb-1234')).join('\n')).toMatch(
      /slack\.botTokenEnv: must be an environment variable name/,
    );
    expect(issues(BASE + SLACK.replace('promotion.blocked]', 'promotion.exploded]')).join('\n')).toMatch(/webhooks\[0\]\.events\[1\]/);
    expect(issues(BASE + SLACK.replace('url: https://hooks.example.com/promoter', 'url: ftp://x')).join('\n')).toMatch(
      /webhooks\[0\]\.url/,
    );
  });
});

describe('notify secrets at boot', () => {
  it('reads the token, signing secret and webhook secrets from the variables named', () => {
    const config = load(BASE + SLACK, { SLACK_BOT_TOKEN: 'xoxb-t', SLACK_SIGNING_SECRET: 'sign', HOOK_SECRET: 'hook' });
    expect(config.notifySecrets).toEqual({ slack: { botToken: 'xoxb-t', signingSecret: 'sign' }, webhooks: ['hook'] });
  });

  it('stops the boot naming every variable that is not set, and no value', () => {
    let error: ConfigError | undefined;
    try {
      load(BASE + SLACK, { SLACK_BOT_TOKEN: 'xoxb-secret-value' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.issues).toEqual([
      { path: 'slack.signingSecretEnv', message: 'environment variable SLACK_SIGNING_SECRET is not set' },
      { path: 'webhooks[0].secretEnv', message: 'environment variable HOOK_SECRET is not set' },
    ]);
    expect(error!.message).not.toContain('xoxb-secret-value');
  });
});

describe('the documented examples', () => {
  it('docs/configuration.md and docs/slack.md: the slack and webhooks blocks parse', () => {
    const withProd = BASE + '  - name: prod\n    from: staging\n    repository: local/prod/{app}\n';
    for (const doc of ['configuration.md', 'slack.md']) {
      const text = readFileSync(new URL(`../../docs/${doc}`, import.meta.url), 'utf8');
      const blocks = [...text.matchAll(/```yaml\n((?:slack|webhooks):[\s\S]*?)```/g)].map((m) => m[1]!);
      expect(blocks.length).toBeGreaterThan(0);
      for (const block of blocks) expect(() => parsePipeline(withProd + block)).not.toThrow();
    }
  });
});
