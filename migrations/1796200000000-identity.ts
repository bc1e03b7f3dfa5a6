import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * People and pipelines: tokens carry an owner, a kind, an expiry and a last-used time; promotions,
 * approvals and reviews record the person behind the credential; sign-in sessions live server-side.
 * Existing tokens keep working with their name as their owner and no expiry, and past decisions
 * keep counting by the name they were recorded under.
 */
export class Identity1796200000000 implements MigrationInterface {
  name = 'Identity1796200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE api_tokens
        ADD COLUMN owner text,
        ADD COLUMN kind text NOT NULL DEFAULT 'person' CHECK (kind IN ('person','workload')),
        ADD COLUMN expires_at timestamptz,
        ADD COLUMN last_used_at timestamptz`);
    await q.query(`UPDATE api_tokens SET owner = name`);
    await q.query(`ALTER TABLE api_tokens ALTER COLUMN owner SET NOT NULL`);
    await q.query(`ALTER TABLE promotions ADD COLUMN requested_by_person text`);
    await q.query(`UPDATE promotions SET requested_by_person = requested_by_name`);
    await q.query(`ALTER TABLE promotions ALTER COLUMN requested_by_person SET NOT NULL`);
    await q.query(`ALTER TABLE approvals ADD COLUMN approver_person text`);
    await q.query(`UPDATE approvals SET approver_person = approver_name`);
    await q.query(`ALTER TABLE approvals ALTER COLUMN approver_person SET NOT NULL`);
    await q.query(`ALTER TABLE reviews ADD COLUMN reviewer_person text`);
    await q.query(`UPDATE reviews SET reviewer_person = reviewer_name`);
    await q.query(`ALTER TABLE reviews ALTER COLUMN reviewer_person SET NOT NULL`);
    // A browser or CLI sign-in. Only the hash of its secret is kept; roles are those the identity
    // provider's groups mapped to when last refreshed, and are re-derived when refreshed_at is old.
    await q.query(`
      CREATE TABLE sessions (
        id             uuid PRIMARY KEY,
        kind           text NOT NULL CHECK (kind IN ('browser','cli')),
        token_hash     text NOT NULL UNIQUE,
        csrf_hash      text,
        refresh_hash   text UNIQUE,
        person         text NOT NULL,
        subject        text NOT NULL,
        name           text NOT NULL,
        email          text,
        roles          text[] NOT NULL,
        groups         text[] NOT NULL DEFAULT '{}',
        idp_refresh    text,
        created_at     timestamptz NOT NULL,
        last_seen_at   timestamptz NOT NULL,
        refreshed_at   timestamptz NOT NULL,
        expires_at     timestamptz NOT NULL,
        revoked_at     timestamptz
      )`);
    await q.query(`CREATE INDEX sessions_person ON sessions (person)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE sessions`);
    await q.query(`ALTER TABLE reviews DROP COLUMN reviewer_person`);
    await q.query(`ALTER TABLE approvals DROP COLUMN approver_person`);
    await q.query(`ALTER TABLE promotions DROP COLUMN requested_by_person`);
    await q.query(`ALTER TABLE api_tokens DROP COLUMN owner, DROP COLUMN kind, DROP COLUMN expires_at, DROP COLUMN last_used_at`);
  }
}
