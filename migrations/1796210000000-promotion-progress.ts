import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How far a promotion's copy has got. A row of its own, not columns of `promotions`: it is written
 * every few seconds while a copy runs, and should neither rewrite the wide promotion row nor wait
 * for the lock a decision holds on it.
 */
export class PromotionProgress1796210000000 implements MigrationInterface {
  name = 'PromotionProgress1796210000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE promotion_progress (
        promotion_id uuid PRIMARY KEY REFERENCES promotions (id) ON DELETE CASCADE,
        blobs_done integer NOT NULL CHECK (blobs_done >= 0),
        blobs_total integer NOT NULL CHECK (blobs_total >= 0),
        bytes_done bigint NOT NULL CHECK (bytes_done >= 0),
        bytes_total bigint NOT NULL CHECK (bytes_total >= 0),
        started_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE promotion_progress`);
  }
}
