import type { Role } from '../domain/index.js';

/** Who is acting: recorded on every audit event. */
export interface Principal {
  /** Stable identity: `token:<uuid>` for API tokens, `bootstrap` for the bootstrap token. */
  id: string;
  name: string;
  roles: Role[];
}

export function hasRole(principal: Principal, roles: readonly Role[]): boolean {
  return principal.roles.includes('admin') || principal.roles.some((r) => roles.includes(r));
}
