import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * PostgreSQL compiled to WebAssembly, kept under `dataDir` and served over the wire protocol on
 * loopback so that `pg`, TypeORM and the migrations work exactly as against a real server.
 * It serves one connection, so the pool using it must have size one.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const dir = join(dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const release = lock(dataDir, dir);
  let db: PGlite;
  try {
    db = await PGlite.create(dir);
  } catch (err) {
    release();
    throw err;
  }
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: 1 });
  await server.start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
      release();
    },
  };
}

/**
 * PGlite keeps its files to one process: a second one (a `promoctl vulndb import` or `migrate`
 * while the service runs, a second `npm start`) would work on its own copy and lose its writes.
 * A pid file refuses it, naming who holds the database; one left by a dead process is taken over.
 */
function lock(dataDir: string, dir: string): () => void {
  const file = join(dataDir, 'pglite.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        rmSync(file, { force: true });
        process.off('exit', release);
      };
      process.on('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = embeddedDatabaseHolder(dataDir);
      if (holder !== null) throw embeddedDatabaseInUse(dataDir, holder);
      rmSync(file, { force: true }); // left behind by a process that is gone
    }
  }
  throw new Error(`cannot lock the embedded database in ${dir}`);
}

/** The live process, other than this one, that holds the embedded database under dataDir; null if none. */
export function embeddedDatabaseHolder(dataDir: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'pglite.pid'), 'utf8');
  } catch {
    return null;
  }
  const holder = Number(text.trim());
  return Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder) ? holder : null;
}

export function embeddedDatabaseInUse(dataDir: string, holder: number): Error {
  return new Error(
    `the embedded database in ${join(dataDir, 'pglite')} is in use by process ${holder}; stop that process first, ` +
      'or set DATABASE_URL to a PostgreSQL server that both can share',
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
