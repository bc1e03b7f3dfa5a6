import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dispatch, ENTRY_MODULES } from './entrypoint-dispatch.js';

const appsDir = dirname(fileURLToPath(import.meta.url));

describe('container entry point dispatch', () => {
  it.each([
    ['api', './api/src/main.js'],
    ['worker', './worker/src/main.js'],
    ['all', './api/src/all-in-one.js'],
    ['migrate', '../libs/db/migrate.js'],
  ])('runs %s from %s', (mode, module) => {
    expect(dispatch([mode])).toEqual({ kind: 'module', mode, module });
  });

  it('every mode names a module that exists in the source tree (built next to entrypoint.js)', () => {
    for (const module of Object.values(ENTRY_MODULES)) {
      expect(existsSync(resolve(appsDir, module.replace(/\.js$/, '.ts'))), module).toBe(true);
    }
  });

  it('passes everything after cli to promoctl unchanged', () => {
    expect(dispatch(['cli', 'status', 'abc', '--json'])).toEqual({ kind: 'cli', args: ['status', 'abc', '--json'] });
    expect(dispatch(['cli'])).toEqual({ kind: 'cli', args: [] });
  });

  it('refuses an unknown command with exit code 2 and names it', () => {
    const action = dispatch(['serve']);
    expect(action).toMatchObject({ kind: 'usage', exitCode: 2 });
    expect(action.kind === 'usage' && action.text).toContain("unknown command 'serve'");
  });

  it('refuses arguments after a process mode: settings come from the environment', () => {
    const action = dispatch(['api', '--port', '9000']);
    expect(action).toMatchObject({ kind: 'usage', exitCode: 2 });
    expect(action.kind === 'usage' && action.text).toContain("'api' takes no arguments");
  });

  it('prints usage: exit 2 without a command, 0 when asked for help', () => {
    expect(dispatch([])).toMatchObject({ kind: 'usage', exitCode: 2 });
    expect(dispatch(['--help'])).toMatchObject({ kind: 'usage', exitCode: 0 });
  });

  it('does not treat inherited object keys as modes', () => {
    expect(dispatch(['toString'])).toMatchObject({ kind: 'usage', exitCode: 2 });
  });
});
