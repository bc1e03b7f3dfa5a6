import { z } from 'zod';

/** Names in the pipeline file: registries, environments, review kinds, policy rules. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
export const nameSchema = z.string().regex(NAME_PATTERN, 'must be lowercase letters, digits and dashes');

/** The service's own actors in audit events and records: never a principal a token could be named. */
export const SYSTEM_ACTORS = {
  worker: 'system:worker',
  reconciler: 'system:reconciler',
  promoter: 'system:promoter',
} as const;
export type SystemActor = (typeof SYSTEM_ACTORS)[keyof typeof SYSTEM_ACTORS];
