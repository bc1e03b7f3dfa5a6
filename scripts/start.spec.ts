import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- plain JavaScript run by node before anything is built; it has no type declarations
import { build, buildIsCurrent } from './build.mjs';

function checkout(): string {
  const root = mkdtempSync(join(tmpdir(), 'promoter-start-'));
  mkdirSync(join(root, 'apps'));
  mkdirSync(join(root, 'libs'));
  writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(root, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', rootDir: '.', outDir: 'dist', lib: ['es5'], types: [] } }),
  );
  writeFileSync(
    join(root, 'tsconfig.build.json'),
    JSON.stringify({ extends: './tsconfig.json', include: ['apps', 'libs'], exclude: ['**/*.spec.ts'] }),
  );
  // The smallest library keeps the real compiles below quick.
  writeFileSync(
    join(root, 'apps', 'entry.ts'),
    "import { word } from '../libs/word.js';\ndeclare const console: { log(s: string): void };\nconsole.log('ran ' + word);\n",
  );
  writeFileSync(join(root, 'libs', 'word.ts'), "export const word: string = 'one';\n");
  return root;
}

const later = (path: string) => {
  const t = new Date(Date.now() + 5_000);
  utimesSync(path, t, t);
};

describe('the build stamp', () => {
  it('says a build is current only while the compiled sources are as they were built', () => {
    const root = checkout();
    try {
      expect(buildIsCurrent(root)).toBe(false);
      expect(build(root, () => (mkdirSync(join(root, 'dist'), { recursive: true }), true))).toBe(true);
      expect(buildIsCurrent(root)).toBe(true);

      // Tests are not compiled: adding or editing one needs no build.
      writeFileSync(join(root, 'libs', 'word.spec.ts'), 'export {};\n');
      expect(buildIsCurrent(root)).toBe(true);

      later(join(root, 'libs', 'word.ts'));
      expect(buildIsCurrent(root)).toBe(false);
      build(root, () => true);
      writeFileSync(join(root, 'libs', 'extra.ts'), 'export {};\n');
      expect(buildIsCurrent(root)).toBe(false);
      build(root, () => true);
      rmSync(join(root, 'libs', 'extra.ts'));
      expect(buildIsCurrent(root)).toBe(false);
      build(root, () => true);
      later(join(root, 'tsconfig.build.json'));
      expect(buildIsCurrent(root)).toBe(false);

      // A failed compile leaves no stamp behind: the next start builds again.
      expect(build(root, () => false)).toBe(false);
      expect(buildIsCurrent(root)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('npm start', () => {
  it('builds when the sources changed, and starts without building when they did not', () => {
    const root = checkout();
    try {
      mkdirSync(join(root, 'scripts'));
      for (const f of ['start.mjs', 'build.mjs']) cpSync(resolve('scripts', f), join(root, 'scripts', f));
      symlinkSync(resolve('node_modules'), join(root, 'node_modules'));
      const first = spawnOutput(root);
      expect(first).toContain('building first');
      expect(first).toContain('ran one');

      // Built and unchanged: it runs what is there (the entry's output proves it ran, the missing
      // notice that it did not compile).
      const second = spawnOutput(root);
      expect(second).not.toContain('building first');
      expect(second).toContain('ran one');

      writeFileSync(join(root, 'libs', 'word.ts'), "export const word: string = 'two';\n");
      later(join(root, 'libs', 'word.ts'));
      const third = spawnOutput(root);
      expect(third).toContain('building first');
      expect(third).toContain('ran two');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});

/** stdout and stderr of one `node scripts/start.mjs dist/apps/entry.js` in the checkout. */
function spawnOutput(root: string): string {
  return execFileSync('/bin/sh', ['-c', `"${process.execPath}" scripts/start.mjs dist/apps/entry.js 2>&1`], {
    cwd: root,
    encoding: 'utf8',
  });
}
