// The HTTP API alone (scale it apart from the worker): node dist/apps/api/src/main.js
import 'reflect-metadata';
import { createHttpApp } from './app.js';
import { boot, startOrExit, stopGracefully } from './boot.js';

const { config, redis } = await boot(process.env, 'api');
await startOrExit(redis, async () => {
  const app = await createHttpApp({ config, redisUrl: redis.url, api: true, worker: false });
  stopGracefully(app, redis);
  await app.listen(config.process.port, config.process.host);
});
