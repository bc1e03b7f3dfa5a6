export const ROLES = ['ci', 'release-manager', 'security-reviewer', 'auditor', 'admin'] as const;

export type Role = (typeof ROLES)[number];

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

/**
 * Who may do what, by role, wherever a controller or a rule names more than one role. `admin` is
 * in none of these: the guard lets it through everywhere.
 */
export const ROLE_SETS = {
  /** Read promotions, environments, scans, waivers and health. */
  readers: ['ci', 'release-manager', 'security-reviewer', 'auditor'],
  /** Ask for a promotion, or re-run its gates. */
  requesters: ['ci', 'release-manager'],
  /** Start a new evaluation round of a promotion. */
  reevaluators: ['release-manager', 'security-reviewer'],
  /** Run a policy dry run. */
  policyDryRun: ['ci', 'release-manager', 'security-reviewer'],
  /** May cancel any promotion, not only their own. */
  cancelAny: ['admin', 'release-manager'],
} as const satisfies Record<string, readonly Role[]>;

/** The role an environment's approvals need when the pipeline names none. */
export const DEFAULT_APPROVER_ROLE: Role = 'release-manager';
