import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { Role } from '#libs/domain/index.js';
import type { Principal } from './principal.js';

export const PUBLIC_KEY = 'promoter:public';
export const ROLES_KEY = 'promoter:roles';

/** No token needed (health checks only). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export const ANY_ROLE_KEY = 'promoter:any-role';

/** Any signed-in principal, with or without roles (who am I, sign out). */
export const Authenticated = () => SetMetadata(ANY_ROLE_KEY, true);

/** The roles that may call a route; `admin` may call every route. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

export const CurrentPrincipal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Principal => ctx.switchToHttp().getRequest().principal,
);
