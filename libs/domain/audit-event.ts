import { canonicalJson } from './canonical-json.js';

/** The fields of an audit event that its leaf in the audit log commits to. */
export interface AuditEventFields {
  id: string;
  at: Date;
  actor: string;
  action: string;
  subject: string;
  data: Record<string, unknown>;
}

/**
 * The canonical JSON of an event: the exact bytes that are its Merkle leaf. Fields added later
 * must be optional and left out when absent, so that every earlier event keeps its bytes.
 */
export function auditEventBody(e: AuditEventFields): string {
  return canonicalJson({ id: e.id, at: e.at.toISOString(), actor: e.actor, action: e.action, subject: e.subject, data: e.data });
}
