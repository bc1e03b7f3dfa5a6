import type { MigrationInterface, QueryRunner } from 'typeorm';
import { auditEventBody } from '../libs/domain/index.js';

/**
 * The audit log becomes an RFC 9162 Merkle tree (docs/audit.md). A request's transaction only
 * inserts its events: the sequence orders them and a statement trigger queues them in
 * `audit_unintegrated`, with no lock shared between writers. One integrator (the worker that holds
 * an advisory lock) takes queued events in order, gives each the next leaf index, stores every
 * complete subtree hash it finishes, moves the tree head and signs checkpoints, all in one
 * transaction: a crash leaves the events queued, never lost. An event row is written once.
 */
export class AuditLogTree1796300000000 implements MigrationInterface {
  name = 'AuditLogTree1796300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('DROP TRIGGER audit_chain ON audit_events');
    await q.query('DROP FUNCTION audit_chain()');
    await q.query('ALTER TABLE audit_events DISABLE TRIGGER audit_append_only');
    // Chained events had their body cleared; the leaf needs the exact bytes back.
    for (let after = 0; ;) {
      const rows: { id: string; seq: string; at: Date; actor: string; action: string; subject: string; data: Record<string, unknown> }[] =
        await q.query(
          'SELECT id, seq, at, actor, action, subject, data FROM audit_events WHERE body IS NULL AND seq > $1 ORDER BY seq LIMIT 1000',
          [after],
        );
      if (rows.length === 0) break;
      await q.query(
        `UPDATE audit_events e SET body = b.body FROM jsonb_to_recordset($1::jsonb) AS b(id uuid, body text) WHERE e.id = b.id`,
        [JSON.stringify(rows.map((r) => ({ id: r.id, body: auditEventBody(r) })))],
      );
      after = Number(rows.at(-1)!.seq);
    }
    await q.query(`CREATE SEQUENCE audit_events_seq OWNED BY audit_events.seq`);
    await q.query(`SELECT setval('audit_events_seq', (SELECT coalesce(max(seq), 0) + 1 FROM audit_events), false)`);
    await q.query(`UPDATE audit_events SET seq = nextval('audit_events_seq') WHERE seq IS NULL`);
    await q.query('ALTER TABLE audit_events ENABLE TRIGGER audit_append_only');
    await q.query(`
      ALTER TABLE audit_events
        ALTER COLUMN seq SET DEFAULT nextval('audit_events_seq'),
        ALTER COLUMN seq SET NOT NULL,
        ALTER COLUMN body SET NOT NULL,
        DROP COLUMN prev_hash,
        DROP COLUMN hash`);
    await q.query('DROP TABLE audit_head');

    await q.query('CREATE TABLE audit_unintegrated (seq bigint PRIMARY KEY)');
    await q.query('INSERT INTO audit_unintegrated (seq) SELECT seq FROM audit_events');
    await q.query(`
      CREATE FUNCTION audit_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO audit_unintegrated (seq) SELECT seq FROM added;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_enqueue AFTER INSERT ON audit_events
        REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION audit_enqueue()`);

    // Leaf index → event. Both columns unique: an index holds one event, an event one index.
    await q.query('CREATE TABLE audit_leaves (idx bigint PRIMARY KEY CHECK (idx >= 0), seq bigint NOT NULL UNIQUE)');
    // Every complete subtree: (level, idx) covers leaves [idx·2^level, (idx+1)·2^level).
    await q.query(`
      CREATE TABLE audit_tree (
        level smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
        idx   bigint NOT NULL CHECK (idx >= 0),
        hash  bytea NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (level, idx)
      )`);
    await q.query(`
      CREATE TABLE audit_tree_head (
        id         int PRIMARY KEY CHECK (id = 1),
        size       bigint NOT NULL,
        root       bytea NOT NULL CHECK (length(root) = 32),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO audit_tree_head (id, size, root) VALUES (1, 0, sha256(''::bytea))`);
    await q.query(`
      CREATE TABLE audit_checkpoints (
        size       bigint PRIMARY KEY,
        root       bytea NOT NULL CHECK (length(root) = 32),
        note       text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
      END $$`);
    for (const table of ['audit_leaves', 'audit_tree', 'audit_checkpoints']) {
      await q.query(
        `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION audit_append_only()`,
      );
      await q.query(
        `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    // The chain is rebuilt from the events in seq order, as the first migration would have made it.
    for (const table of ['audit_checkpoints', 'audit_tree_head', 'audit_tree', 'audit_leaves', 'audit_unintegrated']) {
      await q.query(`DROP TABLE ${table}`);
    }
    await q.query('DROP TRIGGER audit_enqueue ON audit_events');
    await q.query('DROP FUNCTION audit_enqueue()');
    await q.query('ALTER TABLE audit_events DISABLE TRIGGER audit_append_only');
    await q.query(
      'ALTER TABLE audit_events ALTER COLUMN seq DROP DEFAULT, ALTER COLUMN seq DROP NOT NULL, ALTER COLUMN body DROP NOT NULL',
    );
    await q.query('DROP SEQUENCE audit_events_seq');
    await q.query('ALTER TABLE audit_events ADD COLUMN prev_hash text, ADD COLUMN hash text');
    await q.query(`
      WITH RECURSIVE ordered AS (
        SELECT id, body, row_number() OVER (ORDER BY seq) AS n FROM audit_events
      ), chain AS (
        SELECT n, id, repeat('0', 64) AS prev, encode(sha256(convert_to(repeat('0', 64) || body, 'UTF8')), 'hex') AS hash FROM ordered WHERE n = 1
        UNION ALL
        SELECT o.n, o.id, c.hash, encode(sha256(convert_to(c.hash || o.body, 'UTF8')), 'hex') FROM chain c JOIN ordered o ON o.n = c.n + 1
      )
      UPDATE audit_events e SET seq = chain.n, prev_hash = chain.prev, hash = chain.hash, body = NULL FROM chain WHERE e.id = chain.id`);
    await q.query(`CREATE TABLE audit_head (id int PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, hash text NOT NULL)`);
    await q.query(
      `INSERT INTO audit_head (id, seq, hash) SELECT 1, count(*), coalesce((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), repeat('0', 64)) FROM audit_events`,
    );
    await q.query(`
      CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' THEN
          IF OLD.seq IS NULL THEN
            RETURN NEW;
          END IF;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
      END $$`);
    await q.query('ALTER TABLE audit_events ENABLE TRIGGER audit_append_only');
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
  }
}
