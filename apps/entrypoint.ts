// The container image's entry point: `node dist/apps/entrypoint.js api|worker|all|migrate|cli ...`.
import { dispatch } from './entrypoint-dispatch.js';

const action = dispatch(process.argv.slice(2));
if (action.kind === 'module') {
  await import(action.module);
} else if (action.kind === 'cli') {
  const { runCli } = await import('./cli/src/cli.js');
  process.exitCode = await runCli(action.args, {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    env: process.env,
  });
} else {
  (action.exitCode === 0 ? process.stdout : process.stderr).write(action.text);
  process.exitCode = action.exitCode;
}
