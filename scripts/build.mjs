#!/usr/bin/env node
// `npm run build`: compiles to dist/ and, when the compile succeeds, records which sources it was
// built from, so that `npm start` can tell in a few milliseconds whether it must build again.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What tsconfig.build.json compiles, plus the files that change how it compiles. */
const SOURCE_DIRS = ['apps', 'libs', 'migrations'];
const SETTINGS = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];
const STAMP = join('dist', '.build-stamp');

/**
 * Path, modification time and size of every compiled source: a file edited, added, removed or
 * checked out from another branch changes it. Tests (*.spec.ts) are not compiled, so they are left out.
 */
export function sourceFingerprint(root) {
  const lines = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) lines.push(describe(path));
    }
  };
  const describe = (path) => {
    const s = statSync(path);
    return `${relative(root, path)} ${s.mtimeMs} ${s.size}`;
  };
  for (const dir of SOURCE_DIRS) if (existsSync(join(root, dir))) walk(join(root, dir));
  for (const file of SETTINGS) if (existsSync(join(root, file))) lines.push(describe(join(root, file)));
  return createHash('sha256').update(lines.sort().join('\n')).digest('hex');
}

/** True when dist/ was built, successfully, from the sources exactly as they are now. */
export function buildIsCurrent(root) {
  try {
    return readFileSync(join(root, STAMP), 'utf8').trim() === sourceFingerprint(root);
  } catch {
    return false;
  }
}

/** Compiles; returns whether it succeeded. The fingerprint is taken first: an edit made during the compile counts as a change. */
export function build(root, compile = defaultCompile) {
  const fingerprint = sourceFingerprint(root);
  if (!compile(root)) return false;
  writeFileSync(join(root, STAMP), fingerprint + '\n');
  return true;
}

function defaultCompile(root) {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  return spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' }).status === 0;
}

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exit(build(ROOT) ? 0 : 1);
}
