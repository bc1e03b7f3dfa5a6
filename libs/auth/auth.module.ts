import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AppConfig } from '#libs/config/index.js';
import { AuthGuard } from './auth.guard.js';
import { CiFederation } from './ci-federation.js';
import { SessionService } from './session.service.js';
import { SsoService } from './sso.service.js';
import { TokenService } from './token.service.js';

@Module({
  providers: [
    TokenService,
    SsoService,
    SessionService,
    { provide: CiFederation, useFactory: (config: AppConfig) => new CiFederation(config.pipeline.identity.ci), inject: [AppConfig] },
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [TokenService, CiFederation, SsoService, SessionService],
})
export class AuthModule {}
