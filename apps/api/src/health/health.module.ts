import { Module } from '@nestjs/common';
import { AuthModule } from '#libs/auth/index.js';
import { WorkflowModule } from '#libs/workflow/index.js';
import { HealthController } from './health.controller.js';

/**
 * Liveness, readiness and metrics. Part of the API; on its own it is the worker process's only
 * HTTP surface (WORKER_HEALTH_PORT), so orchestrators can probe workers and Prometheus scrape them.
 */
@Module({
  imports: [AuthModule, WorkflowModule],
  controllers: [HealthController],
})
export class HealthModule {}
