import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The vulnerability gate: scan results per image digest, waivers, re-evaluations and SBOM attestations. */
export class ScanResults1795900000000 implements MigrationInterface {
  name = 'ScanResults1795900000000';

  async up(q: QueryRunner): Promise<void> {
    // One row per scan of an image: the built-in scanner's (with its SBOM and packages, so a new
    // database can be matched without reading the image again) and every uploaded or attached report.
    await q.query(`
      CREATE TABLE scan_results (
        id             uuid PRIMARY KEY,
        digest         text NOT NULL CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
        source         text NOT NULL CHECK (source IN ('builtin','trivy','grype','attestation')),
        origin         text NOT NULL CHECK (origin IN ('scanner','upload','attached')),
        scanner        jsonb NOT NULL,
        scanned_at     timestamptz NOT NULL,
        received_at    timestamptz NOT NULL DEFAULT now(),
        submitted_by   text NOT NULL,
        repository     text,
        findings       jsonb NOT NULL,
        counts         jsonb NOT NULL,
        report_digest  text NOT NULL,
        envelope       jsonb,
        sbom           jsonb,
        packages       jsonb,
        os             jsonb,
        db_imported_at timestamptz
      )`);
    await q.query(`CREATE INDEX scan_results_digest ON scan_results (digest, source, scanned_at DESC)`);
    // The same report uploaded twice is one row.
    await q.query(`CREATE UNIQUE INDEX scan_results_report ON scan_results (digest, source, report_digest) WHERE origin <> 'scanner'`);

    await q.query(`
      CREATE TABLE waivers (
        id                uuid PRIMARY KEY,
        vulnerability_id  text NOT NULL,
        scope_kind        text NOT NULL CHECK (scope_kind IN ('digest','repository','all')),
        scope_value       text,
        justification     text NOT NULL,
        vex_status        text CHECK (vex_status IN ('not_affected','affected','fixed','under_investigation')),
        vex_justification text,
        expires_at        timestamptz NOT NULL,
        created_by        text NOT NULL,
        created_by_name   text NOT NULL,
        created_at        timestamptz NOT NULL DEFAULT now(),
        revoked_at        timestamptz,
        revoked_by        text,
        CHECK ((scope_kind = 'all') = (scope_value IS NULL))
      )`);
    await q.query(`CREATE INDEX waivers_vulnerability ON waivers (vulnerability_id) WHERE revoked_at IS NULL`);

    // Which database import the promoted images were last re-matched against (claimed by one worker).
    await q.query(`
      CREATE TABLE scan_rematches (
        import_id   bigint PRIMARY KEY,
        started_at  timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        report      jsonb
      )`);

    // The CycloneDX attestation written to a promoted image (once per promotion).
    await q.query(`
      CREATE TABLE sbom_attestations (
        promotion_id uuid PRIMARY KEY REFERENCES promotions(id) ON DELETE CASCADE,
        scan_id      uuid NOT NULL REFERENCES scan_results(id),
        status       text NOT NULL CHECK (status IN ('attested','skipped','failed')),
        detail       jsonb NOT NULL,
        at           timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE sbom_attestations');
    await q.query('DROP TABLE scan_rematches');
    await q.query('DROP TABLE waivers');
    await q.query('DROP TABLE scan_results');
  }
}
