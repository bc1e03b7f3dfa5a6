import type { Role } from '#libs/domain/index.js';

/** A person (single sign-on, or a token created for them) or a workload (federated CI, a service token). */
export type PrincipalKind = 'person' | 'workload';

/** How the caller proved who they are; recorded with every audit event. */
export type Credential = 'token' | 'session' | 'cli-session' | 'oidc' | 'slack' | 'bootstrap';

/** What a federated CI identity may request; absent for every other principal. */
export interface PrincipalLimits {
  apps: readonly string[];
  environments: readonly string[];
}

/** Who is acting: recorded on every audit event. */
export interface Principal {
  /** The credential's stable id: `token:<uuid>`, `session:<uuid>`, `ci:<rule>`, `slack:<user>`, `bootstrap`. */
  id: string;
  /** Display name: the person's name or e-mail, a workload's principal name. */
  name: string;
  roles: Role[];
  kind?: PrincipalKind;
  /**
   * Who counts in the approval rule (personKey): an e-mail address, an identity provider's subject,
   * or a workload's principal name (`github:acme/web`). Absent: the display name.
   */
  person?: string;
  credential?: Credential;
  limits?: PrincipalLimits;
}

export function hasRole(principal: Principal, roles: readonly Role[]): boolean {
  return principal.roles.includes('admin') || principal.roles.some((r) => roles.includes(r));
}

/** The person (or workload) behind a principal, as the approval rule compares them. */
export function personOf(principal: Principal): string {
  return principal.person ?? principal.name;
}

/** The actor fields every audit event carries, so an auditor reads "alice@example.com approved (via slack)". */
export function actorRecord(principal: Principal): { person: string; name: string; kind: PrincipalKind; credential: Credential | null } {
  return { person: personOf(principal), name: principal.name, kind: principal.kind ?? 'person', credential: principal.credential ?? null };
}
