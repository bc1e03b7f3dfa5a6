import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1764000000000 implements MigrationInterface {
  name = 'Initial1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE promotions (
        id                uuid PRIMARY KEY,
        seq               bigserial NOT NULL UNIQUE,
        image             text NOT NULL,
        repository        text NOT NULL,
        digest            text NOT NULL CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
        app               text NOT NULL,
        source            text NOT NULL,
        target            text NOT NULL,
        target_repository text NOT NULL,
        target_tag        text,
        status            text NOT NULL CHECK (status IN ('pending','evaluating','awaiting_approval','approved',
                            'promoting','promoted','rejected','blocked','failed','cancelled','expired')),
        reason            text NOT NULL,
        requested_by      text NOT NULL,
        requested_by_name text NOT NULL,
        idempotency_key   text,
        request_hash      text NOT NULL,
        round             int NOT NULL DEFAULT 1,
        evidence_digest   text,
        expires_at        timestamptz,
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX promotions_idempotency ON promotions (requested_by, idempotency_key)
                   WHERE idempotency_key IS NOT NULL`);
    // A digest has at most one live (or successful) promotion into an environment: nothing is promoted twice.
    await q.query(`CREATE UNIQUE INDEX promotions_one_live ON promotions (digest, target)
                   WHERE status NOT IN ('rejected','failed','cancelled','expired')`);
    await q.query(`CREATE INDEX promotions_status ON promotions (status, seq)`);
    await q.query(`CREATE INDEX promotions_target ON promotions (target, seq)`);
    await q.query(`CREATE INDEX promotions_digest ON promotions (digest)`);

    await q.query(`
      CREATE TABLE gate_results (
        promotion_id    uuid NOT NULL REFERENCES promotions(id) ON DELETE CASCADE,
        gate            text NOT NULL,
        round           int NOT NULL,
        status          text NOT NULL CHECK (status IN ('pending','passed','failed','error','waived')),
        summary         text NOT NULL DEFAULT '',
        evidence        jsonb NOT NULL DEFAULT '{}',
        evidence_digest text,
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (promotion_id, gate)
      )`);

    await q.query(`
      CREATE TABLE approvals (
        id              uuid PRIMARY KEY,
        promotion_id    uuid NOT NULL REFERENCES promotions(id) ON DELETE CASCADE,
        approver_id     text NOT NULL,
        approver_name   text NOT NULL,
        decision        text NOT NULL CHECK (decision IN ('approve','reject')),
        comment         text NOT NULL DEFAULT '',
        channel         text NOT NULL,
        digest          text NOT NULL,
        evidence_digest text NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX approvals_promotion ON approvals (promotion_id, created_at)`);

    await q.query(`
      CREATE TABLE reviews (
        id              uuid PRIMARY KEY,
        promotion_id    uuid NOT NULL REFERENCES promotions(id) ON DELETE CASCADE,
        reviewer_id     text NOT NULL,
        reviewer_name   text NOT NULL,
        kind            text NOT NULL,
        verdict         text NOT NULL CHECK (verdict IN ('approve','reject')),
        notes           text NOT NULL DEFAULT '',
        channel         text NOT NULL,
        digest          text NOT NULL,
        evidence_digest text NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX reviews_promotion ON reviews (promotion_id, created_at)`);

    await q.query(`
      CREATE TABLE api_tokens (
        id         uuid PRIMARY KEY,
        name       text NOT NULL UNIQUE,
        roles      text[] NOT NULL,
        token_hash text NOT NULL UNIQUE,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE audit_events (
        seq       bigint PRIMARY KEY,
        id        uuid NOT NULL UNIQUE,
        at        timestamptz NOT NULL,
        actor     text NOT NULL,
        action    text NOT NULL,
        subject   text NOT NULL,
        data      jsonb NOT NULL,
        prev_hash text NOT NULL,
        hash      text NOT NULL
      )`);
    await q.query(`CREATE INDEX audit_events_subject ON audit_events (subject, seq)`);
    await q.query(`CREATE INDEX audit_events_actor ON audit_events (actor, seq)`);
    await q.query(`CREATE INDEX audit_events_at ON audit_events (at)`);
    // The chain's head: appends lock this row, so the chain never forks, and deleting the newest
    // events is detected because the head no longer matches.
    await q.query(`CREATE TABLE audit_head (id int PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, hash text NOT NULL)`);
    await q.query(`INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${'0'.repeat(64)}')`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['audit_head', 'audit_events', 'api_tokens', 'reviews', 'approvals', 'gate_results', 'promotions']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
