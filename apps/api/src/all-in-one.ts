// API and worker in one process, for small installs: `npm start`.
import 'reflect-metadata';
import { createHttpApp } from './app.js';
import { boot, startOrExit, stopGracefully } from './boot.js';

const { config, redis } = await boot(process.env, 'all-in-one');
await startOrExit(redis, async () => {
  const app = await createHttpApp({ config, redisUrl: redis.url, api: true, worker: true });
  stopGracefully(app, redis);
  await app.listen(config.process.port, config.process.host);
});
