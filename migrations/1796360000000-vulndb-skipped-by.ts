import type { MigrationInterface, QueryRunner } from 'typeorm';

/** An import's skipped records by kind (json, nul, too_large, schema), kept with its status. */
export class VulnDbSkippedBy1796360000000 implements MigrationInterface {
  name = 'VulnDbSkippedBy1796360000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE vuln_imports ADD COLUMN skipped_by jsonb NOT NULL DEFAULT '{}'::jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE vuln_imports DROP COLUMN skipped_by');
  }
}
