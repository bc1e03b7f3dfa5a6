import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { CurrentPrincipal, Roles, TokenService, type Principal } from '#libs/auth/index.js';
import { ROLES } from '#libs/domain/index.js';
import { AuditService } from '#libs/workflow/index.js';
import { ZodPipe } from '../validation.js';

// eslint-disable-next-line no-useless-assignment -- read by a parameter decorator, which the rule does not see
const idSchema = z.uuid({ error: 'must be a token id (a UUID)' });

const createTokenSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits and . _ - (at most 64)'),
  roles: z.array(z.enum(ROLES)).min(1, 'name at least one role'),
  /** The person (id or e-mail) or workload the token acts for; the approval rule compares owners. */
  owner: z
    .string()
    .regex(/^[^\s\x00-\x1f]{1,256}$/, 'a person id or e-mail address (no spaces, at most 256 characters)')
    .optional(),
  kind: z.enum(['person', 'workload']).optional(),
  expiresAt: z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2027-03-01T00:00:00Z' })
    .transform((s) => new Date(s))
    .optional(),
});

@ApiTags('tokens')
@ApiBearerAuth()
@Controller('api/v1/tokens')
export class TokensController {
  constructor(
    private readonly tokens: TokenService,
    private readonly audit: AuditService,
  ) {}

  /** The token is in this answer only; the database keeps its hash. */
  @Post()
  @HttpCode(201)
  @Roles('admin')
  @ApiBody({ schema: z.toJSONSchema(createTokenSchema, { io: 'input' }) as object })
  create(@CurrentPrincipal() who: Principal, @Body(new ZodPipe(createTokenSchema)) body: z.output<typeof createTokenSchema>) {
    return this.tokens.create(who, body, (manager, actor, row) =>
      this.audit.append(manager, actor, {
        action: 'token.created',
        subject: `token:${row.id}`,
        data: { name: row.name, roles: row.roles, owner: row.owner, kind: row.kind, expiresAt: row.expiresAt?.toISOString() ?? null },
      }),
    );
  }

  /** Every token ever created, revoked ones included; never a secret or hash. */
  @Get()
  @Roles('admin')
  list() {
    return this.tokens.list().then((items) => ({ items }));
  }

  /** Revokes a token at once in this process, within 10 s in every other one. */
  @Delete(':id')
  @Roles('admin')
  revoke(@CurrentPrincipal() who: Principal, @Param('id', new ZodPipe(idSchema, 'path')) id: string) {
    return this.tokens.revoke(who, id, (manager, actor, row) =>
      this.audit.append(manager, actor, {
        action: 'token.revoked',
        subject: `token:${row.id}`,
        data: { name: row.name, roles: row.roles },
      }),
    );
  }
}
