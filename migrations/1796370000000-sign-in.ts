import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A sign-in under way: the PKCE verifier and nonce of one authorization request, found by the hash
 * of its state and usable once, so a replayed callback finds nothing and any API replica can finish it.
 */
export class SignIn1796370000000 implements MigrationInterface {
  name = 'SignIn1796370000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sign_in_attempts (
        state_hash   text PRIMARY KEY,
        verifier     text NOT NULL,
        nonce        text NOT NULL,
        return_to    text NOT NULL,
        created_at   timestamptz NOT NULL,
        expires_at   timestamptz NOT NULL,
        used_at      timestamptz
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE sign_in_attempts`);
  }
}
