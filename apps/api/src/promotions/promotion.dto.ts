import { z } from 'zod';
import { DECISIONS } from '#libs/domain/index.js';
import { limitSchema } from '../validation.js';

export const requestPromotionSchema = z.strictObject({
  image: z.string().min(1, 'is required').max(512),
  target: z.string().min(1, 'is required').max(64),
  reason: z.string().max(4000).default(''),
});

export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
  .optional();

/** The promotion's `evidenceDigest` the decider looked at: the decision is refused (409) if it has changed since. */
const seenEvidence = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, "must be sha256: and 64 lowercase hex digits (the promotion's evidenceDigest)")
  .optional();

export const decisionSchema = z.strictObject({
  decision: z.enum(DECISIONS),
  comment: z.string().max(4000).default(''),
  evidenceDigest: seenEvidence,
});

export const reviewSchema = z.strictObject({
  kind: z.string().min(1).max(64),
  verdict: z.enum(DECISIONS),
  notes: z.string().max(10000).default(''),
  evidenceDigest: seenEvidence,
});

export const cancelSchema = z.strictObject({ reason: z.string().max(4000).default('') }).default({ reason: '' });

const instant = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-11-24T10:00:00Z' })
  .transform((s) => new Date(s));

export const listPromotionsSchema = z.strictObject({
  status: z.string().min(1).optional(),
  target: z.string().min(1).max(64).optional(),
  app: z.string().min(1).max(200).optional(),
  image: z.string().min(1).optional(),
  requestedBy: z.string().min(1).max(200).optional(),
  awaitingDecisionBy: z.literal('me', { error: "only 'me' is supported: decisions the caller may still give" }).optional(),
  from: instant.optional(),
  to: instant.optional(),
  cursor: z.string().min(1).max(64).optional(),
  limit: limitSchema,
});
