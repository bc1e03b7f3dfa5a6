import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dispatch } from '../../apps/entrypoint-dispatch.js';
import { parsePipeline } from '#libs/config/index.js';
import { deployDir, readYaml, type Doc } from './manifests.js';

const composeFile = join(deployDir, 'compose', 'compose.yaml');
const compose = readYaml(composeFile);
const services = Object.entries(compose.services as Record<string, Doc>);
const isApp = (s: Doc) => s.image === 'image-promoter:local';
const appServices = services.filter(([, s]) => isApp(s));
const infraServices = services.filter(([, s]) => !isApp(s));

describe('compose.yaml', () => {
  it('runs PostgreSQL, Redis, a registry, the migration, the API and a worker', () => {
    expect(services.map(([name]) => name).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'registry', 'worker']);
    expect(appServices.map(([name]) => name).sort()).toEqual(['api', 'migrate', 'worker']);
  });

  it.each(services)('hardens %s: numeric non-root user, read-only root, no capabilities, no new privileges, tmpfs /tmp', (_, s) => {
    expect(s.user).toMatch(/^\d+:\d+$/);
    expect(Number(s.user.split(':')[0])).toBeGreaterThan(0);
    expect(s.read_only).toBe(true);
    expect(s.cap_drop).toEqual(['ALL']);
    expect(s.cap_add).toBeUndefined();
    expect(s.privileged).toBeUndefined();
    expect(s.security_opt).toContain('no-new-privileges:true');
    expect((s.tmpfs as string[]).some((t) => t.split(':')[0] === '/tmp')).toBe(true);
    expect(s.network_mode).toBeUndefined();
  });

  it('checks the health of the infrastructure services only (the app image has no shell to run a check)', () => {
    for (const [name, s] of infraServices) expect(s.healthcheck?.test?.[0], name).toBe('CMD');
    for (const [name, s] of appServices) expect(s.healthcheck, name).toBeUndefined();
  });

  it('starts the app only after the migration succeeded and PostgreSQL, Redis and the registry are healthy', () => {
    expect(compose.services.migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    for (const name of ['api', 'worker']) {
      expect(compose.services[name].depends_on, name).toEqual({
        migrate: { condition: 'service_completed_successfully' },
        redis: { condition: 'service_healthy' },
        registry: { condition: 'service_healthy' },
      });
    }
  });

  it('runs each app service with a command the image entry point knows', () => {
    const modes = Object.fromEntries(appServices.map(([name, s]) => [name, dispatch(s.command)]));
    expect(modes).toEqual({
      api: expect.objectContaining({ mode: 'api' }),
      worker: expect.objectContaining({ mode: 'worker' }),
      migrate: expect.objectContaining({ mode: 'migrate' }),
    });
  });

  it('builds the image from the repository with deploy/docker/Dockerfile', () => {
    const build = compose.services.migrate.build;
    const context = join(dirname(composeFile), build.context);
    expect(existsSync(join(context, build.dockerfile))).toBe(true);
    expect(existsSync(join(context, 'package.json'))).toBe(true);
  });

  it('publishes ports on loopback only', () => {
    for (const [name, s] of services) {
      for (const port of (s.ports ?? []) as string[]) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('takes passwords and the bootstrap token from the environment, refusing to start without them', () => {
    expect(compose.services.api.environment.PROMOTER_BOOTSTRAP_TOKEN).toMatch(/^\$\{PROMOTER_BOOTSTRAP_TOKEN:\?/);
    expect(compose.services.postgres.environment.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    for (const [name, s] of appServices) expect(s.environment.DATABASE_URL, name).toContain('${POSTGRES_PASSWORD:?');
  });

  it('mounts a pipeline file the service accepts, naming the compose registry', () => {
    for (const [name, s] of [...appServices].filter(([n]) => n !== 'migrate')) {
      const configPath = s.environment.PROMOTER_CONFIG as string;
      const mount = (s.volumes as string[]).map((v) => v.split(':')).find(([, target]) => target === configPath);
      expect(mount, `${name} mounts ${configPath}`).toBeDefined();
      expect(mount![2]).toBe('ro');
      const source = join(dirname(composeFile), mount![0]!);
      const pipeline = parsePipeline(readFileSync(source, 'utf8'), posix.basename(source));
      expect(pipeline.registries.map((r) => r.host)).toEqual(['registry:5000']);
    }
  });
});
