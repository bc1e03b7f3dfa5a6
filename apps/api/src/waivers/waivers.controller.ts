import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { CurrentPrincipal, Roles, type Principal } from '#libs/auth/index.js';
import { VEX_JUSTIFICATIONS, VEX_STATUSES } from '#libs/scanning/index.js';
import { WaiverService } from '#libs/workflow/index.js';
import { ZodPipe } from '../validation.js';
import { ROLE_SETS } from '#libs/domain/index.js';

const READERS = ROLE_SETS.readers;

const scopeSchema = z.union(
  [
    z.strictObject({ digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be an image digest (sha256:<64 hex>)') }),
    z.strictObject({
      repository: z.string().regex(/^[a-z0-9.:-]+(\/[a-z0-9._-]+)+$/, 'must be a repository as images are named: host[:port]/path'),
    }),
    z.strictObject({ all: z.literal(true) }),
  ],
  { error: 'must be one of {digest}, {repository} or {all: true}' },
);

const createSchema = z.strictObject({
  vulnerabilityId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{2,99}$/, 'must be an advisory id such as CVE-2024-5535 or GHSA-xxxx-xxxx-xxxx'),
  scope: scopeSchema,
  justification: z.string().trim().min(10, 'must say why (at least 10 characters)').max(4000),
  expiresAt: z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-12-31T00:00:00Z' })
    .transform((s) => new Date(s)),
  vex: z
    .strictObject({ status: z.enum(VEX_STATUSES), justification: z.enum(VEX_JUSTIFICATIONS).optional() })
    .refine((v) => v.status !== 'not_affected' || v.justification !== undefined, {
      message: 'not_affected needs a justification (OpenVEX)',
      path: ['justification'],
    })
    .refine((v) => v.status === 'not_affected' || v.justification === undefined, {
      message: 'only not_affected takes a justification (OpenVEX)',
      path: ['justification'],
    })
    .optional(),
});

const listSchema = z.strictObject({
  active: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  vulnerabilityId: z.string().max(100).optional(),
});

@ApiTags('waivers')
@ApiBearerAuth()
@Controller('api/v1/waivers')
export class WaiversController {
  constructor(private readonly waivers: WaiverService) {}

  @Post()
  @HttpCode(201)
  @Roles('security-reviewer')
  create(@CurrentPrincipal() who: Principal, @Body(new ZodPipe(createSchema)) body: z.output<typeof createSchema>) {
    return this.waivers.create(who, body);
  }

  @Get()
  @Roles(...READERS)
  list(@Query(new ZodPipe(listSchema, 'query')) query: z.output<typeof listSchema>) {
    return this.waivers.list(query);
  }

  @Delete(':id')
  @Roles('security-reviewer')
  revoke(
    @CurrentPrincipal() who: Principal,
    @Param('id', new ZodPipe(z.uuid({ error: 'must be a waiver id (a UUID)' }), 'path')) id: string,
  ) {
    return this.waivers.revoke(who, id);
  }
}
