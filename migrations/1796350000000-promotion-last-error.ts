import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The last error a promotion met (message, step, time, attempt), on the row every reader sees:
 * until now it was only in the audit log, which only auditors may read.
 */
export class PromotionLastError1796350000000 implements MigrationInterface {
  name = 'PromotionLastError1796350000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE promotions ADD COLUMN last_error jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE promotions DROP COLUMN last_error`);
  }
}
