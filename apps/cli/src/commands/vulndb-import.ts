import type { Command } from 'commander';
import { ConfigError, loadProcessConfig, parseByteSize } from '#libs/config/index.js';
import { openDatabase } from '#libs/db/index.js';
import { DEFAULT_MAX_RECORD_BYTES, importOsv, readOsvPath, VulnDbImportError, type ImportReport } from '#libs/scanning/index.js';
import { CliError, type CommandEnv } from '../context.js';

interface ImportFlags {
  strict?: boolean;
  maxRecordSize?: string;
}

const KIND_LABELS = { json: 'not JSON', nul: 'NUL or unpaired surrogate', too_large: 'too large', schema: 'not OSV' } as const;

/**
 * `promoctl vulndb import PATH`: loads OSV records into the database DATABASE_URL names (like
 * `npm run migrate`, which it runs first), replacing the previous import in one transaction.
 */
export function registerVulnDbImport(parent: Command, env: CommandEnv): void {
  parent
    .command('import')
    .description('replace the vulnerability database with the OSV records in PATH (a .json file, an OSV all.zip, or a directory of them)')
    .argument('<path>', 'OSV JSON file, zip archive, or directory')
    .option('--strict', 'fail the import when any record is malformed (default: skip and report them)')
    .option(
      '--max-record-size <size>',
      `skip a JSON file or zip entry larger than this, unread (e.g. 512KiB, 16MiB; default ${DEFAULT_MAX_RECORD_BYTES / 1024 / 1024}MiB)`,
    )
    .action(async (path: string, flags: ImportFlags, cmd: Command) => {
      const json = cmd.optsWithGlobals<{ json?: boolean }>().json === true;
      let maxRecordBytes = DEFAULT_MAX_RECORD_BYTES;
      if (flags.maxRecordSize !== undefined) {
        try {
          maxRecordBytes = parseByteSize(flags.maxRecordSize);
        } catch (err) {
          throw new CliError(`error: --max-record-size: ${(err as Error).message}`);
        }
        if (maxRecordBytes < 1) throw new CliError('error: --max-record-size must be above zero');
      }
      let config;
      try {
        config = loadProcessConfig(env.io.env);
      } catch (err) {
        throw new CliError(
          err instanceof ConfigError ? `error: configuration error in ${err.message}` : `error: ${(err as Error).message}`,
        );
      }
      const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
      let report: ImportReport;
      try {
        report = await importOsv(db.dataSource, readOsvPath(path, { maxRecordBytes }), { source: path, strict: flags.strict === true });
      } catch (err) {
        if (err instanceof VulnDbImportError) throw new CliError(`error: import failed: ${err.message}`);
        throw err;
      } finally {
        await db.close();
      }
      if (json) {
        env.io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        env.io.stdout(
          `imported ${report.records} records (${report.entries} package entries) from ${report.source} at ${report.importedAt.toISOString()}\n`,
        );
        if (report.withdrawn > 0) env.io.stdout(`left out ${report.withdrawn} withdrawn records\n`);
        if (report.skipped > 0) {
          const kinds = Object.entries(report.skippedBy).filter(([, n]) => n > 0);
          env.io.stdout(
            `skipped ${report.skipped} malformed records (${kinds.map(([k, n]) => `${n} ${KIND_LABELS[k as keyof typeof KIND_LABELS]}`).join(', ')}):\n`,
          );
          for (const p of report.problems) env.io.stdout(`  - ${p.id ?? '(no id)'} in ${p.document}: ${p.reason}\n`);
          if (report.skipped > report.problems.length) env.io.stdout(`  … and ${report.skipped - report.problems.length} more\n`);
        }
      }
      env.done(0);
    });
}
