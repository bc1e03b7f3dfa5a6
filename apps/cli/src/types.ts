import { STATUS_GROUPS, type Decision, type PromotionStatus } from '#libs/domain/index.js';

export type { PromotionStatus };

export const TERMINAL_STATUSES: readonly string[] = STATUS_GROUPS.terminal;
/** Not terminal, but nothing moves on by itself: re-evaluation (blocked) or a retry (failed) is needed. */
export const STUCK_STATUSES: readonly string[] = STATUS_GROUPS.stuck;

export interface Actor {
  id: string;
  name: string;
}

export interface GateResult {
  gate: string;
  status: string;
  summary: string | null;
  evidence?: unknown;
  updatedAt: string;
}

export interface Approval {
  approver: Actor;
  decision: Decision;
  comment: string | null;
  at: string;
  counts: boolean;
}

export interface Review {
  reviewer: Actor;
  kind: string;
  verdict: string;
  notes: string | null;
  at: string;
  counts: boolean;
}

export interface ApprovalState {
  required: number | boolean;
  approvers: string[];
  roles?: string[];
  needed: number;
  missingReviews: string[];
  rejectedBy?: string | null;
}

/** How far the copy of a promoting promotion has got (blobs the target already held count as done). */
export interface CopyProgress {
  blobsDone: number;
  blobsTotal: number;
  bytesDone: number;
  bytesTotal: number;
  updatedAt: string;
}

export interface LastError {
  message: string;
  step?: string | null;
  attempt?: number | null;
  at?: string;
}

export interface Promotion {
  id: string;
  image: string;
  digest: string | null;
  source: string;
  target: string;
  status: PromotionStatus;
  reason: string | null;
  requestedBy: Actor;
  createdAt: string;
  updatedAt: string;
  gates: GateResult[];
  approvals: Approval[];
  reviews: Review[];
  approval: ApprovalState;
  expiresAt?: string | null;
  progress?: CopyProgress | null;
  lastError?: LastError | null;
  evidenceDigest?: string | null;
  round?: number;
}

/** A promotion as `GET /promotions` lists it: no gates, decisions or tally. */
export type PromotionSummary = Omit<Promotion, 'gates' | 'approvals' | 'reviews' | 'approval'> & { app?: string };

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface AuditEvent {
  seq: number | string;
  id: string;
  at: string;
  actor: string;
  action: string;
  subject: string;
  data: Record<string, unknown>;
}

export interface Waiver {
  id: string;
  vulnerabilityId: string;
  scope: { digest: string } | { repository: string } | { all: true };
  justification: string;
  vex: { status: string; justification: string | null } | null;
  expiresAt: string;
  createdBy: Actor;
  createdAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
  active: boolean;
}

export interface CreatedToken {
  id: string;
  name: string;
  roles: string[];
  token: string;
  createdAt: string;
}

export interface TokenInfo {
  id: string;
  name: string;
  roles: string[];
  owner?: string;
  kind?: string;
  createdBy: string;
  createdAt: string;
  expiresAt?: string | null;
  lastUsedAt?: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

export interface AuditVerification {
  ok: boolean;
  events: number;
  pending: number;
  head: string | null;
  checkpoint: { size: number; rootHash: string } | null;
  from: number;
  brokenAt: null | { seq: number | null; id: string | null; index: number | null; size: number | null; reason: string };
}

export interface ApiErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: unknown;
}
