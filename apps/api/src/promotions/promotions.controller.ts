import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { CurrentPrincipal, Roles, type Principal } from '#libs/auth/index.js';
import { ApprovalService, PromoteService, PromotionService, type Channel } from '#libs/workflow/index.js';
import { parseInput, uuidParam, ZodPipe } from '../validation.js';
import {
  cancelSchema,
  decisionSchema,
  idempotencyKeySchema,
  listPromotionsSchema,
  requestPromotionSchema,
  reviewSchema,
} from './promotion.dto.js';
import { ROLE_SETS } from '#libs/domain/index.js';

/** Which way a decision came in, for the record (not for authorisation). */
const channelOf = (client: string | undefined): Channel => (client === 'promoctl' ? 'cli' : 'api');

const { readers: READERS, requesters: REQUESTERS, reevaluators: REEVALUATORS } = ROLE_SETS;
/** Who may try to decide; the environment's approval rule then checks the role it demands. */
const APPROVER_CANDIDATES = ROLE_SETS.readers;

@ApiTags('promotions')
@ApiBearerAuth()
@Controller('api/v1/promotions')
export class PromotionsController {
  constructor(
    private readonly promotions: PromotionService,
    private readonly approvals: ApprovalService,
    private readonly promote: PromoteService,
  ) {}

  @Post()
  @Roles(...REQUESTERS)
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'same key and body: the same promotion (200); same key, other body: 409',
  })
  @ApiResponse({ status: 202, description: 'the promotion was created' })
  @ApiResponse({ status: 200, description: 'an idempotent replay: the promotion created earlier with this key' })
  @ApiBody({ schema: z.toJSONSchema(requestPromotionSchema, { io: 'input' }) as object })
  async request(
    @CurrentPrincipal() who: Principal,
    @Body(new ZodPipe(requestPromotionSchema)) body: z.output<typeof requestPromotionSchema>,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const idempotencyKey = parseInput(idempotencyKeySchema, key, 'Idempotency-Key header') ?? null;
    const outcome = await this.promotions.request(who, body, idempotencyKey);
    reply.status(outcome.created ? 202 : 200);
    return outcome.promotion;
  }

  @Get()
  @Roles(...READERS)
  @ApiQuery({ name: 'status', required: false, description: 'comma-separated statuses' })
  @ApiQuery({ name: 'target', required: false, description: 'a target environment; an unknown one is a 422 listing the valid ones' })
  @ApiQuery({ name: 'app', required: false, description: 'an application name; an unknown one is a 422 listing the known ones' })
  @ApiQuery({ name: 'image', required: false, description: 'a digest, or registry/repository@digest' })
  @ApiQuery({ name: 'requestedBy', required: false, description: "a requester's name or principal id, or 'me'" })
  @ApiQuery({
    name: 'awaitingDecisionBy',
    required: false,
    description: "'me': promotions awaiting an approval or review the caller may still give",
  })
  @ApiQuery({ name: 'from', required: false, description: 'created at or after (ISO 8601 date-time)' })
  @ApiQuery({ name: 'to', required: false, description: 'created before (ISO 8601 date-time)' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  @ApiQuery({ name: 'limit', required: false, description: '1–500, default 50' })
  list(
    @CurrentPrincipal() who: Principal,
    @Query(new ZodPipe(listPromotionsSchema, 'query')) query: z.output<typeof listPromotionsSchema>,
  ) {
    return this.promotions.list(who, query);
  }

  @Get(':id')
  @Roles(...READERS)
  get(@Param('id', uuidParam) id: string) {
    return this.promotions.get(id);
  }

  /** Any role may try: the target environment's `approvals.roles` decide (403 role_not_allowed otherwise). */
  @Post(':id/approvals')
  @HttpCode(201)
  @Roles(...APPROVER_CANDIDATES)
  @ApiResponse({ status: 201, description: 'the decision was recorded; the promotion as it now stands' })
  @ApiBody({ schema: z.toJSONSchema(decisionSchema, { io: 'input' }) as object })
  decide(
    @CurrentPrincipal() who: Principal,
    @Param('id', uuidParam) id: string,
    @Body(new ZodPipe(decisionSchema)) body: z.output<typeof decisionSchema>,
    @Headers('x-promoter-client') client: string | undefined,
  ) {
    return this.approvals.decide(who, id, body, channelOf(client));
  }

  @Post(':id/reviews')
  @HttpCode(201)
  @Roles('security-reviewer')
  @ApiBody({ schema: z.toJSONSchema(reviewSchema, { io: 'input' }) as object })
  review(
    @CurrentPrincipal() who: Principal,
    @Param('id', uuidParam) id: string,
    @Body(new ZodPipe(reviewSchema)) body: z.output<typeof reviewSchema>,
    @Headers('x-promoter-client') client: string | undefined,
  ) {
    return this.approvals.review(who, id, body, channelOf(client));
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @Roles(...REQUESTERS)
  cancel(
    @CurrentPrincipal() who: Principal,
    @Param('id', uuidParam) id: string,
    @Body(new ZodPipe(cancelSchema)) body: z.output<typeof cancelSchema>,
  ) {
    return this.promotions.cancel(who, id, body.reason);
  }

  /** A failed copy, tried again; the approvals given still stand. */
  @Post(':id/retry')
  @HttpCode(202)
  @Roles('release-manager')
  @ApiResponse({ status: 202, description: 'the copy was queued again' })
  retry(@CurrentPrincipal() who: Principal, @Param('id', uuidParam) id: string) {
    return this.promote.retry(who, id);
  }

  @Post(':id/reevaluate')
  @HttpCode(202)
  @ApiResponse({ status: 202, description: 'a new evaluation round was queued' })
  @Roles(...REEVALUATORS)
  reevaluate(@CurrentPrincipal() who: Principal, @Param('id', uuidParam) id: string) {
    return this.promotions.reevaluate(who, id);
  }
}
