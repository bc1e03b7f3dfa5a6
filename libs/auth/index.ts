// Identity: API tokens (hashed at rest), the bootstrap admin, roles and the global guard that
// makes every route authenticate and check its role.
export * from './auth.guard.js';
export * from './auth.module.js';
export * from './ci-federation.js';
export * from './jwks-cache.js';
export * from './decorators.js';
export * from './principal.js';
export * from './session.service.js';
export * from './sso.service.js';
export * from './token-secret.js';
export * from './token.service.js';
