import type { MigrationInterface, QueryRunner } from 'typeorm';

/** `GET /promotions?app=…` and `?requestedBy=…` read newest first, like the status and target filters. */
export class PromotionFilters1796100000000 implements MigrationInterface {
  name = 'PromotionFilters1796100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX promotions_app ON promotions (app, seq)`);
    await q.query(`CREATE INDEX promotions_requester ON promotions (requested_by_name, seq)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX promotions_requester`);
    await q.query(`DROP INDEX promotions_app`);
  }
}
