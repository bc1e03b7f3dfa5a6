import type { Command } from 'commander';
import { contextFor, type CommandEnv } from '../context.js';
import { waitFor, waitOptions, type WaitOptions } from '../wait.js';

/** `promoctl wait ID`: follows a promotion already requested, as `promote --wait` does (same output and exit codes). */
export function registerWait(program: Command, env: CommandEnv): void {
  const cmd = program
    .command('wait')
    .description('wait for an existing promotion until it is promoted, stops, or the timeout passes (as promote --wait)')
    .argument('<id>', 'promotion id');
  for (const option of waitOptions()) cmd.addOption(option);
  cmd.action(async (id: string, opts: WaitOptions, cmd: Command) => {
    env.done(await waitFor(contextFor(cmd, env.io), id, opts));
  });
}
