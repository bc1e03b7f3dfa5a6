import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Tokens can be revoked: the row stays (the audit log names it), the token stops authenticating. */
export class TokenRevocation1795800000000 implements MigrationInterface {
  name = 'TokenRevocation1795800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_tokens ADD COLUMN revoked_at timestamptz, ADD COLUMN revoked_by text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_tokens DROP COLUMN revoked_at, DROP COLUMN revoked_by`);
  }
}
