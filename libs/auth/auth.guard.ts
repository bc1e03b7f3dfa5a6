import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ServiceError, type Role } from '../domain/index.js';
import { PUBLIC_KEY, ROLES_KEY } from './decorators.js';
import { hasRole } from './principal.js';
import { TokenService } from './token.service.js';

/**
 * Every route needs a token and declares its roles; a route that declares none is refused
 * to everyone but admin (fail closed).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest();
    const header: unknown = request.headers?.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw new ServiceError('unauthorized', 'an API token is required: send Authorization: Bearer <token>');
    const principal = await this.tokens.authenticate(match[1]!);
    if (!principal) throw new ServiceError('unauthorized', 'the API token is not valid');
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
}
