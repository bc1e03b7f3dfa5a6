import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './app-config.js';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { parseDuration } from '#libs/domain/index.js';
import { parsePipeline } from './pipeline-config.js';
import { loadProcessConfig } from './process-config.js';

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
`;

function problems(text: string): string[] {
  try {
    parsePipeline(text, 'promoter.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the pipeline to be refused');
}

describe('parsePipeline', () => {
  it('reads the example shipped at the repository root', () => {
    const pipeline = parsePipeline(readFileSync(new URL('../../promoter.yaml', import.meta.url), 'utf8'));
    expect(pipeline.entry).toBe('dev');
    expect(pipeline.environments.map((e) => [e.name, e.from])).toEqual([
      ['dev', null],
      ['staging', 'dev'],
      ['prod', 'staging'],
    ]);
    const staging = pipeline.environments[1]!;
    expect(staging).toMatchObject({ registry: 'local', path: 'staging/{app}', reviews: [] });
    expect(Object.keys(staging.gates)).toEqual(['signature', 'scan', 'policy']);
    expect(staging.approvals).toEqual({ required: 1, roles: ['release-manager'], expiresAfterMs: 86_400_000, timeoutMs: 604_800_000 });
    expect(pipeline.environments[2]!.reviews).toEqual(['security']);
    expect(pipeline.registries[0]).toMatchObject({ host: '127.0.0.1:5000', insecure: true, rateLimit: 50, auth: { type: 'none' } });
    // Signing is shipped commented out (it needs a key pair); uncommented, it names keygen's key.
    expect(pipeline.signing).toBeNull();
    const shipped = readFileSync(new URL('../../promoter.yaml', import.meta.url), 'utf8');
    const signed = parsePipeline(shipped.replace(/^# signing:\n# {3}key: (.*)$/m, 'signing:\n  key: $1'));
    expect(signed.signing?.key).toEqual({ path: 'keys/cosign.key', passwordEnv: 'PROMOTER_KEY_PASSWORD', passwordFile: null });
  });

  it('reads the tags an environment adds and whether it copies attachments', () => {
    const pipeline = parsePipeline(BASE + '    tags: [stable, v1.2_x]\n    copyAttachments: true\n');
    expect(pipeline.environments[1]).toMatchObject({ tags: ['stable', 'v1.2_x'], copyAttachments: true });
    expect(pipeline.environments[0]).toMatchObject({ tags: [], copyAttachments: false });
    expect(problems(BASE + '    tags: [-bad]\n').join()).toContain('environments[1].tags[0]: is not a valid tag');
  });

  it('defaults approvals to none and auth to anonymous', () => {
    const pipeline = parsePipeline(BASE);
    expect(pipeline.environments[1]!.approvals.required).toBe(0);
    expect(pipeline.registries[0]!.auth).toEqual({ type: 'none' });
    expect(pipeline.signing).toBeNull();
  });

  it.each([
    ['not YAML', 'registries: [', 'not valid YAML'],
    ['no registries', 'environments: []', 'registries'],
    ['an unknown top-level key', BASE + 'colour: blue\n', 'colour'],
    ['a registry URL without http(s)', BASE.replace('http://127.0.0.1:5000', 'ftp://x'), 'registries[0].url'],
    [
      'an unknown registry in a repository',
      BASE.replace('local/staging', 'remote/staging'),
      "environments[1].repository: unknown registry 'remote'",
    ],
    [
      'a mistyped repository placeholder',
      BASE.replace('local/staging/{app}', 'local/staging/{application}'),
      'environments[1].repository: unknown placeholder {application} (known: {app})',
    ],
    [
      'an unmatched brace in a repository',
      BASE.replace('local/staging/{app}', 'local/staging/{app'),
      "environments[1].repository: has an unmatched '{' or '}'",
    ],
    [
      'a repeated {app}',
      BASE.replace('local/staging/{app}', 'local/staging/{app}/{app}'),
      'environments[1].repository: may contain {app} at most once',
    ],
    ['an unknown from', BASE.replace('from: dev', 'from: dve'), "environments[1].from: unknown environment 'dve'"],
    ['two entries', BASE.replace('    from: dev\n', ''), 'exactly one environment must have no'],
    ['a duplicate environment', BASE.replace('name: staging', 'name: dev'), "duplicate environment name 'dev'"],
    ['a bad duration', BASE + '    approvals: { required: 1, expiresAfter: soon }\n', 'environments[1].approvals.expiresAfter'],
    [
      'a zero duration',
      BASE + '    approvals: { required: 1, timeout: 0s }\n',
      'environments[1].approvals.timeout: must be longer than zero',
    ],
    ['an unknown role', BASE + '    approvals: { required: 1, roles: [boss] }\n', 'environments[1].approvals.roles[0]'],
    ['a negative count', BASE + '    approvals: { required: -1 }\n', 'environments[1].approvals.required'],
    ['an unknown gate', BASE + '    gates: { lint: {} }\n', 'environments[1].gates'],
    [
      'gates on the entry',
      BASE.replace('    repository: local/dev/{app}\n', '    repository: local/dev/{app}\n    gates: { scan: {} }\n'),
      'environments[0].from',
    ],
    [
      'a cycle',
      BASE.replace(
        '  - name: dev\n    repository: local/dev/{app}\n',
        '  - name: dev\n    repository: local/dev/{app}\n  - name: a\n    from: b\n    repository: local/a/{app}\n  - name: b\n    from: a\n    repository: local/b/{app}\n',
      ),
      'cycle',
    ],
  ])('refuses %s, naming the key', (_name, text, expected) => {
    expect(problems(text).join('\n')).toContain(expected);
  });

  it('prefixes the message with the file it came from', () => {
    expect(() => parsePipeline('environments: []', '/etc/promoter.yaml')).toThrow(/^\/etc\/promoter\.yaml: /);
  });
});

describe('loadConfig', () => {
  const withAuth = (auth: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'promoter-config-'));
    const path = join(dir, 'promoter.yaml');
    writeFileSync(path, BASE.replace('url: http://127.0.0.1:5000', `url: http://127.0.0.1:5000\n    auth: ${auth}`));
    return path;
  };

  it('reads the registry credentials the pipeline names, and refuses to start without them', () => {
    const path = withAuth('{ type: basic, usernameEnv: REG_USER, passwordEnv: REG_PASS }');
    const config = loadConfig({ PROMOTER_CONFIG: path, REG_USER: 'u', REG_PASS: 'p', UNRELATED: 'x' });
    expect(config.registryEnv).toEqual({ REG_USER: 'u', REG_PASS: 'p' });
    expect(() => loadConfig({ PROMOTER_CONFIG: path, REG_USER: 'u' })).toThrow(
      'registries[0].auth: environment variable REG_PASS is not set',
    );
  });

  it('expands ~ in a docker config path', () => {
    const config = loadConfig({ PROMOTER_CONFIG: withAuth('{ type: dockerConfig, path: ~/.docker/config.json }') });
    expect(config.pipeline.registries[0]!.auth).toEqual({ type: 'dockerConfig', path: join(homedir(), '.docker/config.json') });
  });
});

describe('loadProcessConfig', () => {
  it('has defaults for everything', () => {
    expect(loadProcessConfig({})).toEqual({
      port: 8080,
      host: '0.0.0.0',
      workerHealthPort: null,
      databaseUrl: null,
      redisUrl: null,
      redisPrefix: 'promoter',
      configPath: './promoter.yaml',
      bootstrapToken: null,
      logLevel: 'info',
      logFormat: 'auto',
      dataDir: './data',
      reconcileIntervalMs: 30_000,
    });
  });

  it('reads and checks each variable', () => {
    const c = loadProcessConfig({
      PORT: '9000',
      DATABASE_URL: 'postgres://u@h/db',
      REDIS_URL: 'redis://h:1',
      LOG_LEVEL: 'debug',
      PROMOTER_BOOTSTRAP_TOKEN: 'x'.repeat(16),
      REDIS_PREFIX: '',
    });
    expect(c).toMatchObject({
      port: 9000,
      databaseUrl: 'postgres://u@h/db',
      redisUrl: 'redis://h:1',
      logLevel: 'debug',
      bootstrapToken: 'x'.repeat(16),
      redisPrefix: 'promoter',
    });
    expect(() => loadProcessConfig({ PORT: 'eighty' })).toThrow(/environment: PORT/);
    expect(() => loadProcessConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL: must be a postgres/);
    expect(() => loadProcessConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadProcessConfig({ PROMOTER_BOOTSTRAP_TOKEN: 'short' })).toThrow(/PROMOTER_BOOTSTRAP_TOKEN: must be at least 16/);
    expect(() => loadProcessConfig({ PROMOTER_RECONCILE_INTERVAL: '10ms' })).toThrow(/PROMOTER_RECONCILE_INTERVAL: must be at least 1s/);
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1_500],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', 'soon', '10', '5 m', 'm5', '1h x'])('refuses %j', (text) => expect(() => parseDuration(text)).toThrow('not a duration'));
});
