/**
 * The `notify` queue job a vulnerability database import raises when an image already promoted
 * into an environment has new findings that environment's scan gate would block. The promotion
 * stands; this is a notice for people (Slack, webhooks render it).
 */
export const NEW_FINDINGS_JOB = 'scan-new-findings';

export interface NewFindingsJobData {
  promotionId: string;
  environment: string;
  /** The promoted image: `target repository@digest`. */
  image: string;
  digest: string;
  /** The environment's `gates.scan.failOn`. */
  failOn: string;
  /** `vuln_imports.id` of the import that found them, and when it was imported. */
  importId: string;
  dbImportedAt: string;
  /** Findings at or above failOn, not waived, not in the image's previous scan. */
  findings: { id: string; package: string; installedVersion: string; fixedVersion: string | null; severity: string; source: string }[];
}

/** One notice per promotion and import: enqueuing it twice is a no-op. */
export function newFindingsJobId(promotionId: string, importId: string): string {
  return `${NEW_FINDINGS_JOB}-${promotionId}-${importId}`;
}
