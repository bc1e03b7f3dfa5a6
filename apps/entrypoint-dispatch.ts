// What the container's single entry point runs for its first argument: one image serves every process.

/** Long-running processes and one-shot tasks, by the module that runs them (relative to dist/apps/). */
export const ENTRY_MODULES = {
  api: './api/src/main.js',
  worker: './worker/src/main.js',
  all: './api/src/all-in-one.js',
  migrate: '../libs/db/migrate.js',
} as const;

export type EntryMode = keyof typeof ENTRY_MODULES;

export type EntryAction =
  { kind: 'module'; mode: EntryMode; module: string } | { kind: 'cli'; args: string[] } | { kind: 'usage'; exitCode: 0 | 2; text: string };

export const ENTRY_USAGE = `usage: entrypoint.js <command>
  api        the HTTP API
  worker     the queue workers (no HTTP server)
  all        API and workers in one process
  migrate    bring the database schema up to date, then exit
  cli ...    promoctl with the remaining arguments (e.g. cli status <id>)
`;

export function dispatch(args: readonly string[]): EntryAction {
  const [command, ...rest] = args;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    return { kind: 'usage', exitCode: command === undefined ? 2 : 0, text: ENTRY_USAGE };
  }
  if (command === 'cli') return { kind: 'cli', args: rest };
  if (Object.hasOwn(ENTRY_MODULES, command)) {
    const mode = command as EntryMode;
    // Processes take their settings from the environment only; a stray argument is a mistake, not an option.
    if (rest.length > 0)
      return { kind: 'usage', exitCode: 2, text: `'${mode}' takes no arguments (got: ${rest.join(' ')})\n${ENTRY_USAGE}` };
    return { kind: 'module', mode, module: ENTRY_MODULES[mode] };
  }
  return { kind: 'usage', exitCode: 2, text: `unknown command '${command}'\n${ENTRY_USAGE}` };
}
