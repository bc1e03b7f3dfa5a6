import { Controller, Get, Header, HttpCode } from '@nestjs/common';
import { register } from 'prom-client';
import { DataSource } from 'typeorm';
import { Public, Roles } from '#libs/auth/index.js';
import { ServiceError } from '#libs/domain/index.js';
import { JobQueues } from '#libs/queue/index.js';
import { ROLE_SETS } from '#libs/domain/index.js';

const CHECK_TIMEOUT_MS = 2_000;

@Controller()
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly queues: JobQueues,
  ) {}

  @Get('healthz')
  @Public()
  live() {
    return { status: 'ok' };
  }

  @Get('readyz')
  @Public()
  @HttpCode(200)
  async ready() {
    const [database, redis] = await Promise.all([check(() => this.dataSource.query('SELECT 1')), check(() => this.queues.ping())]);
    const checks = { database, redis };
    if (database !== 'ok' || redis !== 'ok') throw new ServiceError('unavailable', 'not ready', checks);
    return { status: 'ok', checks };
  }

  /** Prometheus text format; scrapers send a token like any other client. */
  @Get('metrics')
  @Roles(...ROLE_SETS.readers)
  @Header('Content-Type', register.contentType)
  metrics() {
    return register.metrics();
  }
}

async function check(probe: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return (err as Error).message;
  } finally {
    clearTimeout(timer);
  }
}
