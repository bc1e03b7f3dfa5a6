// `npm run migrate`: brings the database named by DATABASE_URL (or the embedded one) up to date.
import { ConfigError, loadProcessConfig } from '#libs/config/index.js';
import { openDatabase } from './data-source.js';

try {
  const config = loadProcessConfig(process.env);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const applied = await db.dataSource.query('SELECT name FROM migrations ORDER BY id');
  process.stdout.write(`schema up to date: ${applied.map((r: { name: string }) => r.name).join(', ')}\n`);
  await db.close();
} catch (err) {
  const message = err instanceof ConfigError ? `configuration error in ${err.message}` : (err as Error).message;
  process.stderr.write(`image-promoter migrate: ${message}\n`);
  process.exitCode = 1;
}
