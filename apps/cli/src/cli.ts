import { Command, CommanderError } from 'commander';
import { ApiError, ConnectionError } from './api-client.js';
import { registerApprove } from './commands/approve.js';
import { registerAudit } from './commands/audit.js';
import { registerAuditVerify } from './commands/audit-verify.js';
import { registerKeygen } from './commands/keygen.js';
import { registerPromote } from './commands/promote.js';
import { registerReject } from './commands/reject.js';
import { registerRetry } from './commands/retry.js';
import { registerReview } from './commands/review.js';
import { registerStatus } from './commands/status.js';
import { registerTokenCreate, registerTokenList, registerTokenRevoke } from './commands/token-create.js';
import { registerVulnDbImport } from './commands/vulndb-import.js';
import { registerVerify } from './commands/verify.js';
import { registerWait } from './commands/wait.js';
import { registerCancel } from './commands/cancel.js';
import { registerEvents } from './commands/events.js';
import { registerList } from './commands/list.js';
import { registerPolicyEvaluate } from './commands/policy-evaluate.js';
import { registerProvenance } from './commands/provenance.js';
import { registerReevaluate } from './commands/reevaluate.js';
import { registerWaiver } from './commands/waiver.js';
import { CliError, DEFAULT_URL, type CliIo, type CommandEnv } from './context.js';

export type { CliIo } from './context.js';

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode = 0;
  const env: CommandEnv = { io, done: (code) => (exitCode = code) };
  const program = buildProgram(io);

  registerPromote(program, env);
  registerWait(program, env);
  registerStatus(program, env);
  registerApprove(program, env);
  registerReject(program, env);
  registerRetry(program, env);
  registerReview(program, env);
  registerList(program, env);
  registerCancel(program, env);
  registerReevaluate(program, env);
  registerEvents(program, env);
  registerWaiver(program, env);
  registerProvenance(program, env);
  registerPolicyEvaluate(program, env);
  registerKeygen(program, env);
  const token = program.command('token').description('manage API tokens');
  registerTokenCreate(token, env);
  registerTokenList(token, env);
  registerTokenRevoke(token, env);
  const audit = program
    .command('audit')
    .description('inspect and verify the audit log (a Merkle transparency log with signed checkpoints)');
  registerAuditVerify(audit, env);
  registerAudit(audit, env);
  registerVulnDbImport(program.command('vulndb').description('manage the local vulnerability database (runs against DATABASE_URL)'), env);
  registerVerify(program, env);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    return reportError(err, io);
  }
}

function buildProgram(io: CliIo): Command {
  return new Command('promoctl')
    .description('command-line client for the image promoter')
    .option('--json', 'print the raw JSON response instead of text')
    .option('--url <url>', `promoter base URL (default: $PROMOTER_URL or ${DEFAULT_URL})`)
    .option('--token <token>', 'API token (default: $PROMOTER_TOKEN)')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      outputError: (s, write) => write(s),
    });
}

function reportError(err: unknown, io: CliIo): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err instanceof CliError) {
    io.stderr(`${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof ApiError) {
    io.stderr(`error: ${err.message}\n`);
    const details = (err.body as { details?: unknown } | null)?.details;
    if (details !== undefined && details !== null) io.stderr(formatDetails(details));
    return 2;
  }
  if (err instanceof ConnectionError) {
    io.stderr(`error: ${err.message}\n`);
    return 2;
  }
  io.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return 2;
}

function formatDetails(details: unknown): string {
  if (Array.isArray(details)) {
    return details.map((d) => `  - ${typeof d === 'string' ? d : JSON.stringify(d)}\n`).join('');
  }
  return `  details: ${typeof details === 'string' ? details : JSON.stringify(details)}\n`;
}
