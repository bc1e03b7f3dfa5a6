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

    // The audit log. An event is inserted with its canonical JSON `body`; when its transaction
    // commits, a deferred trigger links it into the chain: it locks the head, takes the next
    // position, sets prev_hash and hash = sha256(prev_hash ‖ body), and moves the head. The head
    // is locked only while the commit completes, never across a round trip to the client, so
    // appends are serialised (the chain never forks) without serialising whole requests.
    await q.query(`
      CREATE TABLE audit_events (
        id        uuid PRIMARY KEY,
        seq       bigint UNIQUE,
        at        timestamptz NOT NULL,
        actor     text NOT NULL,
        action    text NOT NULL,
        subject   text NOT NULL,
        data      jsonb NOT NULL,
        body      text,
        prev_hash text,
        hash      text
      )`);
    await q.query(`CREATE INDEX audit_events_subject ON audit_events (subject, seq)`);
    await q.query(`CREATE INDEX audit_events_actor ON audit_events (actor, seq)`);
    await q.query(`CREATE INDEX audit_events_at ON audit_events (at)`);
    await q.query(`CREATE TABLE audit_head (id int PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, hash text NOT NULL)`);
    await q.query(`INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${'0'.repeat(64)}')`);
    await q.query(`
      CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        head_seq  bigint;
        head_hash text;
        new_hash  text;
      BEGIN
        SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1 FOR UPDATE;
        new_hash := encode(sha256(convert_to(head_hash || NEW.body, 'UTF8')), 'hex');
        UPDATE audit_events SET seq = head_seq + 1, prev_hash = head_hash, hash = new_hash, body = NULL WHERE id = NEW.id;
        UPDATE audit_head SET seq = head_seq + 1, hash = new_hash WHERE id = 1;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE CONSTRAINT TRIGGER audit_chain AFTER INSERT ON audit_events
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_chain()`);
    // Append-only: a chained event cannot be changed or removed through ordinary SQL.
    await q.query(`
      CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' THEN
          IF OLD.seq IS NULL THEN
            RETURN NEW;
          END IF;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_append_only()`);
    await q.query(`
      CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS audit_events');
    await q.query('DROP FUNCTION IF EXISTS audit_chain');
    await q.query('DROP FUNCTION IF EXISTS audit_append_only');
    for (const table of ['audit_head', 'api_tokens', 'reviews', 'approvals', 'gate_results', 'promotions']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
