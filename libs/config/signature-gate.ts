import { z } from 'zod';
import { gateDeadline } from './gate-deadline.js';

// `gates.signature` of an environment: whom to trust for signatures and attestations. Paths are
// files relative to the pipeline file; they are read and parsed when the worker starts.

const path = z.string().min(1, 'must name a file');
const regExp = z
  .string()
  .min(1)
  .refine((source) => {
    try {
      new RegExp(source, 'u');
      return true;
    } catch {
      return false;
    }
  }, 'is not a valid regular expression');

const identitySchema = z
  .strictObject({
    issuer: z.string().min(1).optional(),
    issuerRegExp: regExp.optional(),
    subject: z.string().min(1).optional(),
    subjectRegExp: regExp.optional(),
  })
  .superRefine((id, ctx) => {
    if ((id.issuer === undefined) === (id.issuerRegExp === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of issuer and issuerRegExp' });
    }
    if ((id.subject === undefined) === (id.subjectRegExp === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of subject and subjectRegExp' });
    }
  });

const trustedRootSchema = z.strictObject({
  /** PEM file of the Fulcio root (and intermediate) certificates; each one is a trust anchor. */
  fulcioRoots: path,
  /** PEM public key(s) of the Rekor log whose signed entry timestamps are accepted. */
  rekorKey: z.union([path, z.array(path).min(1)]).transform((v) => (Array.isArray(v) ? v : [v])),
});

const attestationSchema = z
  .strictObject({
    predicateType: z.string().min(1),
    keys: z.array(path).default([]),
    identities: z.array(identitySchema).default([]),
  })
  .refine((a) => a.keys.length + a.identities.length > 0, 'name at least one key or identity that may sign it');

export const signatureGateSchema = z
  .strictObject({
    keys: z.array(path).default([]),
    identities: z.array(identitySchema).default([]),
    trustedRoot: trustedRootSchema.optional(),
    attestations: z.array(attestationSchema).default([]),
    deadline: gateDeadline.optional(),
  })
  .superRefine((gate, ctx) => {
    if (gate.keys.length + gate.identities.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'name at least one trusted key (keys) or keyless identity (identities)' });
    }
    const keyless = gate.identities.length > 0 || gate.attestations.some((a) => a.identities.length > 0);
    if (keyless && !gate.trustedRoot) {
      ctx.addIssue({ code: 'custom', path: ['trustedRoot'], message: 'keyless identities need trustedRoot: { fulcioRoots, rekorKey }' });
    }
  });

export type SignatureIdentityConfig = z.output<typeof identitySchema>;
export type SignatureGateConfig = z.output<typeof signatureGateSchema>;
