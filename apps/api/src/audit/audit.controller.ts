import { Controller, Get, HttpCode, Inject, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { Roles } from '#libs/auth/index.js';
import { ServiceError } from '#libs/domain/index.js';
import {
  AUDIT_KEY,
  AuditCheckpointService,
  AuditProofService,
  AuditQueryService,
  AuditTreeStore,
  AuditVerifier,
  type AuditKey,
} from '#libs/workflow/index.js';
import { limitSchema, ZodPipe } from '../validation.js';

const instant = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-11-24T10:00:00Z' })
  .transform((s) => new Date(s));
const listSchema = z.strictObject({
  subject: z.string().min(1).max(200).optional(),
  actor: z.string().min(1).max(200).optional(),
  person: z.string().min(1).max(256).optional(),
  from: instant.optional(),
  to: instant.optional(),
  cursor: z.string().min(1).max(64).optional(),
  limit: limitSchema,
});
/** A tree size or sequence number: a non-negative decimal integer, nothing else. */
const count = (what: string) =>
  z
    .string()
    .regex(/^\d{1,15}$/, `${what} must be a non-negative whole number`)
    .transform(Number);
const inclusionSchema = z.strictObject({ seq: count('seq'), size: count('size').optional() });
const consistencySchema = z.strictObject({ from: count('from'), to: count('to').optional() });
const verifySchema = z.strictObject({ incremental: z.enum(['true', 'false']).optional() });
const leavesSchema = z.strictObject({
  size: count('size'),
  start: count('start').default(0),
  afterSeq: count('afterSeq').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
  from: instant.optional(),
  to: instant.optional(),
  proofs: z.enum(['true', 'false']).default('false'),
});
const checkpointsSchema = z.strictObject({ limit: limitSchema, before: count('before').optional() });

@ApiTags('audit')
@ApiBearerAuth()
@Controller('api/v1/audit')
export class AuditController {
  constructor(
    private readonly query: AuditQueryService,
    private readonly verifier: AuditVerifier,
    private readonly proofs: AuditProofService,
    private readonly store: AuditTreeStore,
    private readonly checkpointer: AuditCheckpointService,
    @Inject(AUDIT_KEY) private readonly key: AuditKey | null,
  ) {}

  @Get('events')
  @Roles('auditor')
  events(@Query(new ZodPipe(listSchema, 'query')) filter: z.output<typeof listSchema>) {
    return this.query.list(filter);
  }

  @Get('verify')
  @Roles('auditor')
  verify(@Query(new ZodPipe(verifySchema, 'query')) q: z.output<typeof verifySchema>) {
    return this.verifier.verify({ incremental: q.incremental === 'true' });
  }

  /** The C2SP signed-note verifier key of the audit key: public, so any signed-in role may read it. */
  @Get('key')
  @Roles('auditor', 'admin', 'ci', 'release-manager', 'security-reviewer')
  auditKey() {
    if (!this.key)
      throw new ServiceError('not_found', 'no audit key is configured (audit.key in the pipeline file): checkpoints are not signed');
    return { vkey: this.key.verifier.vkey };
  }

  @Get('checkpoints')
  @Roles('auditor', 'admin')
  async checkpoints(@Query(new ZodPipe(checkpointsSchema, 'query')) q: z.output<typeof checkpointsSchema>) {
    const items = await this.store.checkpoints(q.limit, q.before);
    return { items, nextBefore: items.length === q.limit ? items.at(-1)!.size : null };
  }

  @Post('checkpoints')
  @HttpCode(201)
  @Roles('admin')
  checkpointNow() {
    if (!this.key)
      throw new ServiceError('conflict', 'no audit key is configured (audit.key in the pipeline file): checkpoints cannot be signed');
    return this.checkpointer.now();
  }

  /** One page of an export: leaves by index with their exact bytes and events, and optionally their proofs. */
  @Get('leaves')
  @Roles('auditor')
  async leaves(@Query(new ZodPipe(leavesSchema, 'query')) q: z.output<typeof leavesSchema>) {
    let start = q.start;
    if (q.afterSeq !== undefined) {
      const index = await this.store.leafIndex(q.afterSeq);
      if (index === null) throw new ServiceError('not_found', `no event with seq ${q.afterSeq} is in the tree`);
      start = Math.max(start, index + 1);
    }
    const limit = q.proofs === 'true' ? Math.min(q.limit, 200) : q.limit;
    return this.proofs.leaves({ size: q.size, start, limit, from: q.from, to: q.to, proofs: q.proofs === 'true' });
  }

  @Get('proofs/inclusion')
  @Roles('auditor')
  inclusion(@Query(new ZodPipe(inclusionSchema, 'query')) q: z.output<typeof inclusionSchema>) {
    return this.proofs.inclusion(q.seq, q.size);
  }

  @Get('proofs/consistency')
  @Roles('auditor')
  consistency(@Query(new ZodPipe(consistencySchema, 'query')) q: z.output<typeof consistencySchema>) {
    return this.proofs.consistency(q.from, q.to);
  }
}
