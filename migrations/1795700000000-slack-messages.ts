import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The Slack approval message of each promotion: where it was posted, so that every later state
 * change updates that message instead of posting another. Approvals already record their
 * channel (`approvals.channel`: api, cli or slack), so they need no new column.
 */
export class SlackMessages1795700000000 implements MigrationInterface {
  name = 'SlackMessages1795700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE slack_messages (
        promotion_id  uuid PRIMARY KEY REFERENCES promotions(id) ON DELETE CASCADE,
        channel       text NOT NULL,
        ts            text NOT NULL,
        status        text NOT NULL,
        posted_at     timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE slack_messages');
  }
}
