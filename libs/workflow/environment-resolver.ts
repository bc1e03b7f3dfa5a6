import { Injectable } from '@nestjs/common';
import { AppConfig, type EnvironmentConfig } from '#libs/config/index.js';
import { ServiceError } from '#libs/domain/index.js';
import type { ImageReference } from '#libs/registry/index.js';

export interface Located {
  environment: EnvironmentConfig;
  app: string;
}

interface Matcher {
  environment: EnvironmentConfig;
  host: string;
  path: RegExp;
}

/** Maps image references to the environment whose repository holds them, and back. */
@Injectable()
export class EnvironmentResolver {
  private readonly matchers: Matcher[];

  constructor(private readonly config: AppConfig) {
    this.matchers = config.pipeline.environments.map((environment) => ({
      environment,
      host: config.registry(environment.registry)!.host,
      path: new RegExp('^' + environment.path.split('{app}').map(escapeRegExp).join('(?<app>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)') + '$'),
    }));
  }

  locate(ref: ImageReference): Located {
    if (!this.config.pipeline.registries.some((r) => r.host === ref.registry)) {
      throw new ServiceError('unprocessable', `registry '${ref.registry}' is not one of the registries named in the pipeline file`, {
        field: 'image',
        known: this.config.pipeline.registries.map((r) => r.host),
      });
    }
    for (const m of this.matchers) {
      if (m.host !== ref.registry) continue;
      const match = m.path.exec(ref.repository);
      if (match) return { environment: m.environment, app: match.groups?.app ?? ref.repository.split('/').pop()! };
    }
    throw new ServiceError('unprocessable', `'${ref.registry}/${ref.repository}' is not the repository of any environment`, {
      field: 'image',
      repositories: this.config.pipeline.environments.map((e) => e.repository),
    });
  }

  /** `host/path` of an environment's repository for an app. */
  repositoryOf(environment: EnvironmentConfig, app: string): string {
    return `${this.config.registry(environment.registry)!.host}/${environment.path.replaceAll('{app}', app)}`;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
