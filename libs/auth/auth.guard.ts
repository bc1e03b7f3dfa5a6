import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ServiceError, type Role } from '../domain/index.js';
import { PUBLIC_KEY, ROLES_KEY } from './decorators.js';
import { CiFederation, looksLikeJwt } from './ci-federation.js';
import { hasRole, type Principal } from './principal.js';
import { TokenService } from './token.service.js';

const TOKEN_REFUSALS = {
  unknown: 'the API token is not valid',
  revoked: 'the API token has been revoked',
  expired: 'the API token has expired; create a new one',
} as const;

/**
 * Every route needs a token and declares its roles; a route that declares none is refused
 * to everyone but admin (fail closed).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly ci: CiFederation,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest();
    const header: unknown = request.headers?.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw new ServiceError('unauthorized', 'an API token is required: send Authorization: Bearer <token>');
    const principal = await this.principalOf(match[1]!);
    request.principal = principal;
    const roles = this.reflector.getAllAndOverride<Role[]>(ROLES_KEY, targets) ?? [];
    if (!hasRole(principal, roles)) {
      throw new ServiceError('forbidden', `this needs one of the roles: ${roles.join(', ') || 'admin'}`, {
        required: roles,
        held: principal.roles,
      });
    }
    return true;
  }

  private async principalOf(bearer: string): Promise<Principal> {
    if (looksLikeJwt(bearer)) {
      if (!this.ci.enabled) throw new ServiceError('unauthorized', 'OIDC tokens are not accepted here: identity.ci names no trusted issuer', { check: 'issuer' });
      return this.ci.authenticate(bearer);
    }
    const checked = await this.tokens.check(bearer);
    if ('refused' in checked) throw new ServiceError('unauthorized', TOKEN_REFUSALS[checked.refused], { check: `token_${checked.refused}` });
    return checked.principal;
  }
}
