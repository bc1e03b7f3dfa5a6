import { Controller, Headers, HttpCode, Post, Req } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '#libs/auth/index.js';
import { ServiceError } from '#libs/domain/index.js';
import { SlackInteractionsService } from '#libs/notify/index.js';

/**
 * Slack's interactivity request URL. Slack cannot send our bearer token, so the route is public to
 * the token guard and authenticated instead by Slack's request signature, checked first.
 */
@Controller('api/v1/slack')
export class SlackController {
  constructor(private readonly interactions: SlackInteractionsService) {}

  @Post('interactions')
  @Public()
  @HttpCode(200)
  @ApiExcludeEndpoint()
  interaction(
    @Req() request: FastifyRequest,
    @Headers('x-slack-request-timestamp') timestamp: string | undefined,
    @Headers('x-slack-signature') signature: string | undefined,
  ): string {
    if (!this.interactions.enabled) throw new ServiceError('not_found', 'Slack is not configured on this promoter');
    // The form parser (json-body.ts) leaves the body as the bytes Slack signed, on this route only.
    const raw = request.body;
    if (!Buffer.isBuffer(raw))
      throw new ServiceError('bad_request', 'send the interaction as application/x-www-form-urlencoded, as Slack does');
    const click = this.interactions.authenticate(raw, timestamp, signature);
    if (click) this.interactions.dispatch(click);
    return '';
  }
}
