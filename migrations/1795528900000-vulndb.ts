import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The local OSV vulnerability database the built-in scanner matches against (`promoctl vulndb import`). */
export class VulnDb1795528900000 implements MigrationInterface {
  name = 'VulnDb1795528900000';

  async up(q: QueryRunner): Promise<void> {
    // One row per (record, affected package): a record naming three packages is three rows.
    await q.query(`
      CREATE TABLE vuln_records (
        id          text NOT NULL,
        modified    timestamptz NOT NULL,
        ecosystem   text NOT NULL,
        package     text NOT NULL,
        affected    jsonb NOT NULL,
        severity    text NOT NULL CHECK (severity IN ('unknown','low','medium','high','critical')),
        cvss_score  real,
        aliases     text[] NOT NULL DEFAULT '{}',
        summary     text,
        PRIMARY KEY (ecosystem, package, id)
      )`);
    // Every import is kept for the record; the newest is the one the rows belong to.
    await q.query(`
      CREATE TABLE vuln_imports (
        id           bigserial PRIMARY KEY,
        imported_at  timestamptz NOT NULL DEFAULT now(),
        source       text NOT NULL,
        records      int NOT NULL,
        entries      int NOT NULL,
        skipped      int NOT NULL,
        withdrawn    int NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE vuln_imports');
    await q.query('DROP TABLE vuln_records');
  }
}
