import { SYSTEM_ACTORS } from '#libs/domain/index.js';
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { AppConfig, jobRetry, scanGateSchema } from '#libs/config/index.js';
import { QUEUES } from '#libs/queue/index.js';
import { isRegistryError } from '#libs/registry/index.js';
import { CYCLONEDX_PREDICATE_TYPE, judgeFindings, ScannerService, type Finding } from '#libs/scanning/index.js';
import {
  AttestationService,
  AuditService,
  NEW_FINDINGS_JOB,
  newFindingsJobId,
  ScanResultsService,
  WaiverService,
  type NewFindingsJobData,
} from '#libs/workflow/index.js';

const WORKER = SYSTEM_ACTORS.worker;
export interface RematchReport {
  importId: string;
  images: {
    promotionId: string;
    environment: string;
    image: string;
    status: 'rematched' | 'skipped';
    reason?: string;
    newBlocking: number;
  }[];
}

/**
 * The scan gate's follow-ups, run by every worker on `scanning.recheckInterval` (claims in the
 * database make each happen once):
 * - after a vulnerability database import, the image currently in each environment (the latest
 *   promotion per target repository) is re-matched from its stored packages; new blocking findings
 *   are audited (`scan.new_findings`) and sent to the notify queue. The promotion stands.
 * - a promoted image whose built-in scan kept an SBOM gets it attached as a signed CycloneDX attestation.
 */
@Injectable()
export class ScanWatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ScanWatcher.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private closing = false;
  private readonly attesting = new Set<Promise<unknown>>();

  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly scanner: ScannerService,
    private readonly results: ScanResultsService,
    private readonly waivers: WaiverService,
    private readonly audit: AuditService,
    private readonly attestations: AttestationService,
    @InjectQueue(QUEUES.notify) private readonly notify: Queue,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.config.pipeline.scanning.recheckIntervalMs);
    this.timer.unref();
    // A promotion this worker completes gets its SBOM attested right away; the interval catches the rest.
    this.audit.onCommit((events) => {
      if (this.closing || !events.some((e) => e.action === 'promotion.promoted')) return;
      const run = this.attestSboms()
        .catch((err: Error) => void this.logger.warn(`SBOM attestation: ${err.message}`))
        .finally(() => this.attesting.delete(run));
      this.attesting.add(run);
    });
  }

  /** Before the database and Redis close: a round in flight finishes. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    await Promise.all([this.running, ...this.attesting]);
  }

  /** One round of both follow-ups; a round still running is joined, not doubled. */
  tick(): Promise<void> {
    this.running ??= (async () => {
      try {
        await this.rematch();
        await this.attestSboms();
      } catch (err) {
        this.logger.warn(`scan follow-ups: ${(err as Error).message}`);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Re-matches the promoted images once per database import; null when there is no new import. */
  async rematch(now = new Date()): Promise<RematchReport | null> {
    const [current] = await this.dataSource.query('SELECT id, imported_at FROM vuln_imports ORDER BY id DESC LIMIT 1');
    if (!current) return null;
    // One worker claims the import; a claim left unfinished (its worker died) is taken over after a while.
    const claimed = await this.dataSource.query(
      `INSERT INTO scan_rematches (import_id) VALUES ($1)
       ON CONFLICT (import_id) DO UPDATE SET started_at = now()
         WHERE scan_rematches.finished_at IS NULL AND scan_rematches.started_at < now() - interval '15 minutes'
       RETURNING import_id`,
      [current.id],
    );
    if (claimed.length === 0) return null;
    const importId = String(current.id);
    const promoted: { id: string; digest: string; target: string; target_repository: string; repository: string }[] =
      await this.dataSource.query(
        `SELECT DISTINCT ON (target_repository) id, digest, target, target_repository, repository
         FROM promotions WHERE status = 'promoted' ORDER BY target_repository, seq DESC`,
      );
    const report: RematchReport = { importId, images: [] };
    for (const p of promoted) {
      const image = `${p.target_repository}@${p.digest}`;
      const entry = (status: 'rematched' | 'skipped', newBlocking: number, reason?: string) =>
        report.images.push({ promotionId: p.id, environment: p.target, image, status, newBlocking, ...(reason ? { reason } : {}) });
      const env = this.config.pipeline.environments.find((e) => e.name === p.target);
      const options = env?.gates.scan ? scanGateSchema.safeParse(env.gates.scan) : null;
      if (!options?.success) {
        entry('skipped', 0, 'the environment has no scan gate');
        continue;
      }
      const stored = await this.results.latestBuiltin(p.digest);
      if (!stored) {
        entry('skipped', 0, 'no built-in scan with packages is stored for this digest');
        continue;
      }
      const match = await this.scanner.matchPackages(stored.packages);
      const before = new Set(stored.findings.map(findingKey));
      const waivers = await this.waivers.activeFor(
        match.findings.flatMap((f) => [f.id, ...f.aliases]),
        now,
      );
      const judged = judgeFindings(
        match.findings,
        options.data,
        waivers,
        { digest: p.digest, repositories: [p.repository, p.target_repository] },
        now,
      );
      const fresh = judged.blocking.filter((f) => !before.has(findingKey(f)));
      await this.results.insert({
        digest: p.digest,
        source: 'builtin',
        origin: 'scanner',
        scanner: { name: 'image-promoter', version: null, dbBuiltAt: match.dbImportedAt?.toISOString() ?? null, rematchOf: stored.id },
        scannedAt: now,
        submittedBy: WORKER,
        repository: stored.repository,
        findings: match.findings,
        reportDigest: stored.reportDigest,
        sbom: stored.sbom,
        packages: stored.packages,
        os: stored.os,
        dbImportedAt: match.dbImportedAt,
      });
      entry('rematched', fresh.length);
      if (fresh.length === 0) continue;
      const data: NewFindingsJobData = {
        promotionId: p.id,
        environment: p.target,
        image,
        digest: p.digest,
        failOn: options.data.failOn,
        importId,
        dbImportedAt: new Date(current.imported_at).toISOString(),
        findings: fresh.map((f) => ({
          id: f.id,
          package: f.package,
          installedVersion: f.installedVersion,
          fixedVersion: f.fixedVersion,
          severity: f.severity,
          source: f.source,
        })),
      };
      await this.audit.transaction((m) =>
        this.audit.append(m, WORKER, { action: 'scan.new_findings', subject: `promotion:${p.id}`, data: { ...data } }),
      );
      await this.notify
        .add(NEW_FINDINGS_JOB, data, { jobId: newFindingsJobId(p.id, importId), ...jobRetry(this.config.pipeline.worker.retries.notify) })
        .catch((err: Error) => this.logger.warn(`could not queue the new-findings notice for promotion ${p.id}: ${err.message}`));
    }
    await this.dataSource.query('UPDATE scan_rematches SET finished_at = now(), report = $2 WHERE import_id = $1', [
      current.id,
      JSON.stringify(report),
    ]);
    return report;
  }

  /** Attaches the stored SBOM to images promoted since the last round, once per promotion. */
  async attestSboms(): Promise<number> {
    const owed: { id: string; digest: string; target_repository: string; scan_id: string; sbom: unknown }[] = await this.dataSource.query(
      `SELECT p.id, p.digest, p.target_repository, r.id AS scan_id, r.sbom
         FROM promotions p
         JOIN LATERAL (SELECT id, sbom FROM scan_results WHERE digest = p.digest AND source = 'builtin' AND sbom IS NOT NULL
                       ORDER BY scanned_at DESC LIMIT 1) r ON true
        WHERE p.status = 'promoted' AND NOT EXISTS (SELECT 1 FROM sbom_attestations s WHERE s.promotion_id = p.id)
        ORDER BY p.seq LIMIT 20`,
    );
    let done = 0;
    for (const p of owed) {
      if (await this.attestOne(p)) done++;
    }
    return done;
  }

  /**
   * One promotion's SBOM, by one worker at a time: `.att` is read, appended to and written back, so
   * two writers at once (this worker's commit hook and its interval, or two workers) would lose an
   * append. A transaction-scoped advisory lock on the promotion serialises them; whoever finds it
   * taken leaves the promotion to the holder, and whoever comes after finds the row written.
   */
  private async attestOne(p: { id: string; digest: string; target_repository: string; scan_id: string; sbom: unknown }): Promise<boolean> {
    return this.audit.transaction(async (m) => {
      const [{ locked }] = await m.query(`SELECT pg_try_advisory_xact_lock(hashtext('sbom-attestation'), hashtext($1)) AS locked`, [p.id]);
      if (!locked) return false;
      const [{ owed }] = await m.query('SELECT NOT EXISTS (SELECT 1 FROM sbom_attestations WHERE promotion_id = $1) AS owed', [p.id]);
      if (!owed) return false;
      let status: 'attested' | 'skipped' | 'failed';
      let detail: Record<string, unknown>;
      if (!this.attestations.enabled) {
        status = 'skipped';
        detail = { reason: 'no signing key is configured (signing.key)' };
      } else {
        try {
          const a = (await this.attestations.attest(
            { repository: p.target_repository, digest: p.digest },
            CYCLONEDX_PREDICATE_TYPE,
            p.sbom,
          ))!;
          status = 'attested';
          detail = {
            predicateType: a.predicateType,
            statementDigest: a.statementDigest,
            envelopeDigest: a.envelopeDigest,
            manifestDigest: a.manifestDigest,
            status: a.status,
          };
        } catch (err) {
          // Unavailable for now: the next round tries again.
          if (isRegistryError(err) && err.retryable) return false;
          status = 'failed';
          detail = { error: (err as Error).message };
        }
      }
      const rows = await m.query(
        'INSERT INTO sbom_attestations (promotion_id, scan_id, status, detail) VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING RETURNING promotion_id',
        [p.id, p.scan_id, status, JSON.stringify(detail)],
      );
      if (rows.length > 0)
        await this.audit.append(m, WORKER, {
          action: `scan.sbom_${status}`,
          subject: `promotion:${p.id}`,
          data: { scanId: p.scan_id, ...detail },
        });
      return rows.length > 0;
    });
  }
}

function findingKey(f: Finding): string {
  return `${f.id}\u0000${f.package}\u0000${f.installedVersion}`;
}
