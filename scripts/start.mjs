#!/usr/bin/env node
// `npm start` (and start:api, start:worker): builds only when a source changed since the last
// successful build (a full build takes 15-30 s), then runs the entry point in this process, so
// Ctrl-C and SIGTERM reach the service directly.
//
//   node scripts/start.mjs dist/apps/api/src/all-in-one.js
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, buildIsCurrent, ROOT } from './build.mjs';

const entry = process.argv[2];
if (!entry) {
  console.error('usage: node scripts/start.mjs <built entry point, e.g. dist/apps/api/src/all-in-one.js>');
  process.exit(2);
}
if (!buildIsCurrent(ROOT) || !existsSync(join(ROOT, entry))) {
  process.stderr.write('image-promoter: sources changed since the last build; building first\n');
  if (!build(ROOT)) {
    process.stderr.write('image-promoter: the build failed (errors above); not starting\n');
    process.exit(1);
  }
}
process.argv.splice(2, 1);
await import(pathToFileURL(join(ROOT, entry)).href);
