import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ServiceError, type Role } from '#libs/domain/index.js';
import { CiFederation, looksLikeJwt } from './ci-federation.js';
import { ANY_ROLE_KEY, PUBLIC_KEY, ROLES_KEY } from './decorators.js';
import { hasRole, type Principal } from './principal.js';
import { CSRF_HEADER, isSessionToken, SESSION_COOKIE, SessionService } from './session.service.js';
import { TokenService } from './token.service.js';

const TOKEN_REFUSALS = {
  unknown: 'the API token is not valid',
  revoked: 'the API token has been revoked',
  expired: 'the API token has expired; create a new one',
} as const;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every route needs a credential and declares its roles; a route that declares none is refused
 * to everyone but admin (fail closed). Credentials: an API token, a CI system's OIDC token, a
 * promoctl session token (all as the bearer), or a browser session cookie, which must bring
 * its CSRF token on anything that changes state.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly ci: CiFederation,
    private readonly sessions: SessionService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest();
    const principal = await this.principalOf(request);
    request.principal = principal;
    if (this.reflector.getAllAndOverride<boolean>(ANY_ROLE_KEY, targets)) return true;
    const roles = this.reflector.getAllAndOverride<Role[]>(ROLES_KEY, targets) ?? [];
    if (!hasRole(principal, roles)) {
      throw new ServiceError('forbidden', `this needs one of the roles: ${roles.join(', ') || 'admin'}`, {
        required: roles,
        held: principal.roles,
      });
    }
    return true;
  }

  private async principalOf(request: {
    headers?: Record<string, unknown>;
    method?: string;
    cookies?: Record<string, string | undefined>;
    sessionToken?: string;
  }): Promise<Principal> {
    const header = request.headers?.authorization;
    if (header !== undefined) {
      const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!match) throw new ServiceError('unauthorized', 'send Authorization: Bearer <token>', { check: 'credential' });
      return this.bearer(match[1]!);
    }
    const cookie = request.cookies?.[SESSION_COOKIE];
    if (cookie && this.sessions.configured) {
      const { principal } = await this.sessions.authenticate(cookie);
      if (!SAFE_METHODS.has(request.method ?? 'GET') && !this.sessions.csrfMatches(cookie, request.headers?.[CSRF_HEADER])) {
        throw new ServiceError('forbidden', "CSRF check failed: send the session's X-CSRF-Token header with requests that change state", {
          check: 'csrf',
        });
      }
      request.sessionToken = cookie;
      return principal;
    }
    throw new ServiceError('unauthorized', 'an API token is required: send Authorization: Bearer <token>, or sign in', {
      check: 'credential',
    });
  }

  private async bearer(bearer: string): Promise<Principal> {
    if (looksLikeJwt(bearer)) {
      if (!this.ci.enabled)
        throw new ServiceError('unauthorized', 'OIDC tokens are not accepted here: identity.ci names no trusted issuer', {
          check: 'issuer',
        });
      return this.ci.authenticate(bearer);
    }
    if (isSessionToken(bearer)) {
      if (!this.sessions.configured)
        throw new ServiceError('unauthorized', 'the session is not valid; sign in again', { check: 'session_unknown' });
      return (await this.sessions.authenticate(bearer)).principal;
    }
    const checked = await this.tokens.check(bearer);
    if ('refused' in checked)
      throw new ServiceError('unauthorized', TOKEN_REFUSALS[checked.refused], { check: `token_${checked.refused}` });
    return checked.principal;
  }
}
