import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '#libs/config/index.js';
import { EnvironmentResolver } from './environment-resolver.js';

/** The pipeline as configured, with what stands in each environment now. */
@Injectable()
export class EnvironmentService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly resolver: EnvironmentResolver,
  ) {}

  async list() {
    const current: { target: string; app: string; digest: string; image: string; id: string; updated_at: Date }[] =
      await this.dataSource.query(
        `SELECT DISTINCT ON (target, app) target, app, digest, image, id, updated_at
           FROM promotions WHERE status = 'promoted' ORDER BY target, app, updated_at DESC`,
      );
    return this.config.pipeline.environments.map((env) => ({
      name: env.name,
      from: env.from,
      entry: env.from === null,
      repository: env.repository,
      registry: this.config.registry(env.registry)!.host,
      gates: env.gates,
      approvals: {
        required: env.approvals.required,
        roles: env.approvals.roles,
        expiresAfterMs: env.approvals.expiresAfterMs,
        timeoutMs: env.approvals.timeoutMs,
      },
      reviews: env.reviews,
      tags: env.tags,
      copyAttachments: env.copyAttachments,
      current: current
        .filter((c) => c.target === env.name)
        .map((c) => ({
          app: c.app,
          repository: this.resolver.repositoryOf(env, c.app),
          digest: c.digest,
          promotionId: c.id,
          promotedAt: new Date(c.updated_at).toISOString(),
        })),
    }));
  }
}
