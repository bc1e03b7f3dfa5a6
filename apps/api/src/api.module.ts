import { Module } from '@nestjs/common';
import { AuthModule } from '#libs/auth/index.js';
import { PolicyModule } from '#libs/workflow/index.js';
import { NotifyModule } from '#libs/notify/index.js';
import { ScanModule, WorkflowModule } from '#libs/workflow/index.js';
import { AuditController } from './audit/audit.controller.js';
import { AuthController } from './auth/auth.controller.js';
import { EnvironmentsController } from './environments/environments.controller.js';
import { HealthModule } from './health/health.module.js';
import { ImagesController } from './images/images.controller.js';
import { PolicyController } from './policy/policy.controller.js';
import { PromotionsController } from './promotions/promotions.controller.js';
import { ScansController } from './scans/scans.controller.js';
import { SlackController } from './slack/slack.controller.js';
import { TokensController } from './tokens/tokens.controller.js';
import { WaiversController } from './waivers/waivers.controller.js';

/** The HTTP API. It only reads, writes and enqueues; the work happens in the worker. */
@Module({
  imports: [AuthModule, WorkflowModule, PolicyModule, ScanModule, HealthModule, NotifyModule],
  controllers: [
    AuthController,
    PromotionsController,
    PolicyController,
    EnvironmentsController,
    ImagesController,
    AuditController,
    TokensController,
    ScansController,
    WaiversController,
    SlackController,
  ],
})
export class ApiModule {}
