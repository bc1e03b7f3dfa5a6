import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { CurrentPrincipal, Roles, type Principal } from '#libs/auth/index.js';
import { REPORT_FORMATS } from '#libs/scanning/index.js';
import { ScanResultsService } from '#libs/workflow/index.js';
import { ZodPipe } from '../validation.js';
import { ROLE_SETS } from '#libs/domain/index.js';

const READERS = ROLE_SETS.readers;
/** Trivy and Grype reports of large images run to megabytes; other routes keep the API's 1 MiB. */
export const REPORT_BODY_LIMIT = 16 * 1024 * 1024;

export const digestParam = new ZodPipe(z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be an image digest (sha256:<64 hex>)'), 'digest');

const uploadSchema = z.strictObject({
  /** Omitted: detected from the report's shape (Trivy `SchemaVersion`, Grype `matches`, DSSE `payloadType`). */
  format: z.enum(REPORT_FORMATS).optional(),
  report: z.record(z.string(), z.unknown(), { error: 'must be the report as a JSON object' }),
});

@ApiTags('images')
@ApiBearerAuth()
@Controller('api/v1/images')
export class ScansController {
  constructor(private readonly scans: ScanResultsService) {}

  @Post(':digest/scans')
  @RouteConfig({ bodyLimit: REPORT_BODY_LIMIT })
  @HttpCode(201)
  @Roles('ci')
  upload(
    @CurrentPrincipal() who: Principal,
    @Param('digest', digestParam) digest: string,
    @Body(new ZodPipe(uploadSchema)) body: z.output<typeof uploadSchema>,
  ) {
    return this.scans.upload(who, digest, body.report, body.format);
  }

  @Get(':digest/findings')
  @Roles(...READERS)
  findings(@Param('digest', digestParam) digest: string) {
    return this.scans.findingsOf(digest);
  }
}
