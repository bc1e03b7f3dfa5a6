import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { CurrentPrincipal, Roles, type Principal } from '#libs/auth/index.js';
import { PolicyService } from '#libs/workflow/index.js';
import { ZodPipe } from '../validation.js';
import { ROLE_SETS } from '#libs/domain/index.js';

export const evaluatePolicySchema = z.strictObject({
  image: z.string().min(1).max(512),
  target: z.string().min(1).max(64),
  /** What `promotion.reason` holds for the rules (optional). */
  reason: z.string().max(2000).optional(),
});

@ApiTags('policy')
@ApiBearerAuth()
@Controller('api/v1/policy')
export class PolicyController {
  constructor(private readonly policy: PolicyService) {}

  /** A dry run of the target environment's policy rules: no promotion is created, nothing is written. */
  @Post('evaluate')
  @HttpCode(200)
  @Roles(...ROLE_SETS.policyDryRun)
  @ApiBody({ schema: z.toJSONSchema(evaluatePolicySchema, { io: 'input' }) as object })
  @ApiResponse({
    status: 200,
    description: 'the evaluation: status passed or failed, each rule on each platform, the policy digest, the facts',
  })
  evaluate(@CurrentPrincipal() who: Principal, @Body(new ZodPipe(evaluatePolicySchema)) body: z.output<typeof evaluatePolicySchema>) {
    return this.policy.dryRun(who, body);
  }
}
