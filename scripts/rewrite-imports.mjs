#!/usr/bin/env node
// Rewrites relative imports that climb into libs/ (`../../../../libs/config/index.js`) to the
// package import `#libs/config/index.js` (package.json `imports`). Imports inside one lib stay
// relative. `--check` lists what it would change and exits 1 when anything would.
//   node scripts/rewrite-imports.mjs [--check] [dirs...]   (default: apps libs test bench)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const check = args.includes('--check');
const dirs = args.filter((a) => !a.startsWith('--'));
const IMPORT = /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|vi\.mock\(\s*)(['"])(\.\.?\/[^'"]+)\2/g;

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') yield* files(path);
    } else if (/\.(ts|tsx|mts)$/.test(entry.name)) yield path;
  }
}

/** The `#libs/...` form of `spec` imported from `file`, or null when it should stay relative. */
export function rewriteSpecifier(file, spec) {
  const target = relative(root, resolve(dirname(file), spec))
    .split(sep)
    .join('/');
  if (!target.startsWith('libs/')) return null;
  const from = relative(root, file).split(sep).join('/');
  const lib = target.split('/')[1];
  // Inside the same lib a relative import says "this lib's own file": keep it.
  if (from.startsWith(`libs/${lib}/`)) return null;
  return `#${target}`;
}

export function rewrite(file, text) {
  return text.replace(IMPORT, (whole, lead, quote, spec) => {
    const next = rewriteSpecifier(file, spec);
    return next === null ? whole : `${lead}${quote}${next}${quote}`;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let changed = 0;
  for (const dir of dirs.length > 0 ? dirs : ['apps', 'libs', 'test', 'bench']) {
    for (const file of files(join(root, dir))) {
      const before = readFileSync(file, 'utf8');
      const after = rewrite(file, before);
      if (after === before) continue;
      changed += 1;
      if (check) console.log(relative(root, file));
      else writeFileSync(file, after);
    }
  }
  console.log(`${check ? 'would rewrite' : 'rewrote'} ${changed} file(s)`);
  if (check && changed > 0) process.exitCode = 1;
}
