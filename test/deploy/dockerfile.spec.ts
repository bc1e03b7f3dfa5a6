import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type Copy, type From, type Instruction, type Label } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';
import { dispatch } from '../../apps/entrypoint-dispatch.js';
import { deployDir, repoRoot } from './manifests.js';

const dockerfile = DockerfileParser.parse(readFileSync(join(deployDir, 'docker', 'Dockerfile'), 'utf8'));
const froms = dockerfile.getFROMs();
const instructions = dockerfile.getInstructions();
const lineOf = (i: Instruction) => i.getRange().start.line;

/** The instructions of the stage a FROM starts, up to the next FROM. */
function stage(from: From): Instruction[] {
  const next = froms.find((f) => lineOf(f) > lineOf(from));
  return instructions.filter((i) => lineOf(i) > lineOf(from) && (next === undefined || lineOf(i) < lineOf(next)));
}

const final = froms.at(-1)!;
const imageOf = (from: From) => `${from.getRegistry() ? `${from.getRegistry()}/` : ''}${from.getImageName()}`;
const finalStage = stage(final);
const keyword = (i: Instruction) => i.getKeyword().toUpperCase();

describe('Dockerfile', () => {
  it('builds in stages: the final stage is not the build stage', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(final.getBuildStage()).toBe('runtime');
  });

  it('bases the final stage on distroless Node.js 20 (no shell, no package manager), pinned by digest', () => {
    expect(imageOf(final)).toBe('gcr.io/distroless/nodejs20-debian12');
    expect(final.getImageTag()).toBe('nonroot');
    expect(final.getImageDigest()).toMatch(/^sha256:[a-f0-9]{64}$/);
  });

  it('pins every base image by digest', () => {
    for (const from of froms) expect(from.getImage(), `FROM line ${lineOf(from) + 1}`).toMatch(/@sha256:[a-f0-9]{64}$/);
  });

  it('runs nothing in the final stage: no RUN (there is no shell to run it), no HEALTHCHECK, no ADD', () => {
    const forbidden = finalStage.filter((i) => ['RUN', 'HEALTHCHECK', 'ADD', 'ONBUILD'].includes(keyword(i)));
    expect(forbidden.map((i) => `${keyword(i)} (line ${lineOf(i) + 1})`)).toEqual([]);
  });

  it('switches to a numeric non-root user and group, after everything else in the stage that could need root', () => {
    const users = finalStage.filter((i) => keyword(i) === 'USER');
    expect(users).toHaveLength(1);
    const [user, group] = users[0]!.getArgumentsContent()!.split(':');
    expect(user).toMatch(/^\d+$/);
    expect(Number(user)).toBeGreaterThan(0);
    expect(group).toMatch(/^\d+$/);
    expect(Number(group)).toBeGreaterThan(0);
    const copiesAfterUser = finalStage.filter((i) => keyword(i) === 'COPY' && lineOf(i) > lineOf(users[0]!));
    expect(copiesAfterUser).toEqual([]);
  });

  it('copies only the built app, its production dependencies and package.json from the build stage', () => {
    const copies = finalStage.filter((i): i is Copy => keyword(i) === 'COPY');
    expect(copies.map((c) => c.getFromFlag()?.getValue())).toEqual(copies.map(() => 'build'));
    expect(copies.map((c) => c.getArgumentsContent()!.split(/\s+/)[0]).sort()).toEqual([
      '/app/dist',
      '/app/node_modules',
      '/app/package.json',
    ]);
    const buildStage = stage(froms.find((f) => f.getBuildStage() === 'build')!);
    expect(buildStage.some((i) => keyword(i) === 'RUN' && /npm prune --omit=dev/.test(i.getArgumentsContent()!))).toBe(true);
  });

  it('carries the OCI labels source, revision (from build arguments) and base.name (the FROM image)', () => {
    const labels = new Map(
      finalStage
        .filter((i): i is Label => keyword(i) === 'LABEL')
        .flatMap((l) => l.getProperties().map((p) => [p.getName(), p.getUnescapedValue()!.replace(/^"|"$/g, '')] as const)),
    );
    const args = finalStage.filter((i) => keyword(i) === 'ARG').map((i) => i.getArgumentsContent()!.split('=')[0]);
    expect(labels.get('org.opencontainers.image.source')).toBe('${SOURCE}');
    expect(labels.get('org.opencontainers.image.revision')).toBe('${REVISION}');
    expect(args).toEqual(expect.arrayContaining(['SOURCE', 'REVISION']));
    expect(labels.get('org.opencontainers.image.base.name')).toBe(`${imageOf(final)}:${final.getImageTag()}`);
    expect(labels.get('org.opencontainers.image.base.digest')).toBe(final.getImageDigest());
  });

  it('starts the entry point that dispatches api, worker, migrate and cli, with api by default', () => {
    const entrypoint = finalStage.find((i) => keyword(i) === 'ENTRYPOINT')!;
    const exec = JSON.parse(entrypoint.getArgumentsContent()!) as string[];
    expect(exec[0]).toBe('/nodejs/bin/node');
    // dist/apps/entrypoint.js is what tsconfig.build.json makes of apps/entrypoint.ts; the path is
    // absolute so that `docker run -w …` (promoctl keygen into a mounted directory) still finds it.
    const workdir = finalStage
      .filter((i) => keyword(i) === 'WORKDIR')
      .at(-1)!
      .getArgumentsContent();
    expect(exec[1]).toBe(`${workdir}/dist/apps/entrypoint.js`);
    expect(existsSync(join(repoRoot, 'apps', 'entrypoint.ts'))).toBe(true);
    const cmd = JSON.parse(finalStage.find((i) => keyword(i) === 'CMD')!.getArgumentsContent()!) as string[];
    expect(dispatch(cmd)).toMatchObject({ kind: 'module', mode: 'api' });
  });

  it('lets into the build context exactly what the build stage copies (.dockerignore allow-list)', () => {
    const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const buildStage = stage(froms[0]!);
    const copied = buildStage
      .filter((i) => keyword(i) === 'COPY')
      .flatMap((i) => i.getArgumentsContent()!.split(/\s+/).slice(0, -1))
      .map((p) => p.replace(/^\.\//, ''));
    expect(copied.sort()).toEqual(allowed.sort());
    for (const path of allowed) expect(existsSync(join(repoRoot, path)), path).toBe(true);
  });
});
