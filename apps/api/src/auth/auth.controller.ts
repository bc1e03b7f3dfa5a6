import { Controller, Get, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  Authenticated,
  csrfTokenFor,
  CSRF_COOKIE,
  CurrentPrincipal,
  Public,
  safeReturnTo,
  SESSION_COOKIE,
  SessionService,
  SsoService,
  STATE_COOKIE,
  type Principal,
} from '#libs/auth/index.js';
import { ServiceError } from '#libs/domain/index.js';

type CookieRequest = FastifyRequest & { cookies: Record<string, string | undefined>; sessionToken?: string };

/**
 * Browser sign-in through the identity.oidc provider (authorization code + PKCE), ending in a
 * server-side session held by an HttpOnly cookie; and who the caller is, whatever credential.
 */
@ApiTags('identity')
@Controller()
export class AuthController {
  constructor(
    private readonly sso: SsoService,
    private readonly sessions: SessionService,
  ) {}

  private cookieOptions(maxAgeSeconds?: number) {
    return {
      path: '/',
      httpOnly: true,
      secure: this.sso.secureCookies,
      sameSite: 'lax' as const,
      ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
    };
  }

  /** Starts a sign-in: to the provider, and back to returnTo (a path on this service) afterwards. */
  @Get('auth/login')
  @Public()
  @ApiExcludeEndpoint()
  async login(@Query('returnTo') returnTo: unknown, @Res() reply: FastifyReply) {
    const target = safeReturnTo(returnTo);
    if (target === null)
      throw new ServiceError('bad_request', 'returnTo must be a path on this service (e.g. /promotions), not another site', {
        field: 'returnTo',
      });
    const { url, state } = await this.sso.start(target);
    reply.setCookie(STATE_COOKIE, state, { ...this.cookieOptions(600), path: '/auth/callback' });
    return reply.redirect(url, 302);
  }

  /** The provider's answer: checks state (this browser), code (once), PKCE and nonce, then starts a session. */
  @Get('auth/callback')
  @Public()
  @ApiExcludeEndpoint()
  async callback(@Query() query: Record<string, string>, @Req() req: CookieRequest, @Res() reply: FastifyReply) {
    const flat = Object.fromEntries(Object.entries(query).filter(([, v]) => typeof v === 'string' && v.length <= 4096)) as Record<
      string,
      string
    >;
    const { who, returnTo } = await this.sso.finish(flat, req.cookies[STATE_COOKIE]);
    const session = await this.sessions.create(who, 'browser', req.cookies[SESSION_COOKIE]);
    const maxAge = Math.floor((session.expiresAt.getTime() - Date.now()) / 1000);
    reply.clearCookie(STATE_COOKIE, { path: '/auth/callback' });
    reply.setCookie(SESSION_COOKIE, session.token, this.cookieOptions(maxAge));
    // Readable by the page (not HttpOnly): it sends it back as X-CSRF-Token.
    reply.setCookie(CSRF_COOKIE, session.csrfToken, { ...this.cookieOptions(maxAge), httpOnly: false });
    return reply.redirect(returnTo, 302);
  }

  /** Ends the session server-side (a POST: with a cookie it needs the CSRF token), and clears the cookies. */
  @Post('auth/logout')
  @HttpCode(200)
  @Authenticated()
  async logout(@Req() req: CookieRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const header = req.headers.authorization;
    const token = req.sessionToken ?? (typeof header === 'string' ? /^Bearer\s+(pms_\S+)$/i.exec(header)?.[1] : undefined);
    if (!token)
      throw new ServiceError('bad_request', 'only a sign-in session can sign out; revoke API tokens with DELETE /api/v1/tokens/{id}');
    await this.sessions.revoke(token);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    reply.clearCookie(CSRF_COOKIE, { path: '/' });
    return { signedOut: true };
  }

  /** Who the caller is: person or workload, display name, roles, and the credential used. */
  @Get('api/v1/me')
  @Authenticated()
  me(@CurrentPrincipal() who: Principal, @Req() req: CookieRequest) {
    return {
      id: who.id,
      name: who.name,
      kind: who.kind ?? 'person',
      person: who.person ?? who.name,
      roles: who.roles,
      credential: who.credential ?? null,
      ...(who.limits ? { limits: who.limits } : {}),
      ...(req.sessionToken ? { csrfToken: csrfTokenFor(req.sessionToken) } : {}),
    };
  }
}
