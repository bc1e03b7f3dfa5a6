import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { Roles } from '../../../../libs/auth/index.js';
import { AuditQueryService, AuditService } from '../../../../libs/workflow/index.js';
import { limitSchema, ZodPipe } from '../validation.js';

const instant = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-11-24T10:00:00Z' }).transform((s) => new Date(s));
const listSchema = z.strictObject({
  subject: z.string().min(1).max(200).optional(),
  actor: z.string().min(1).max(200).optional(),
  person: z.string().min(1).max(256).optional(),
  from: instant.optional(),
  to: instant.optional(),
  cursor: z.string().min(1).max(64).optional(),
  limit: limitSchema,
});

@ApiTags('audit')
@ApiBearerAuth()
@Controller('api/v1/audit')
export class AuditController {
  constructor(
    private readonly audit: AuditService,
    private readonly query: AuditQueryService,
  ) {}

  @Get('events')
  @Roles('auditor')
  events(@Query(new ZodPipe(listSchema, 'query')) filter: z.output<typeof listSchema>) {
    return this.query.list(filter);
  }

  @Get('verify')
  @Roles('auditor')
  verify() {
    return this.audit.verify();
  }
}
