// The queue workers alone (run as many as needed against the same Redis and database). With
// WORKER_HEALTH_PORT set they also answer /healthz, /readyz and /metrics on that port.
import 'reflect-metadata';
import { createHttpApp, createWorkerContext } from '../../api/src/app.js';
import { boot, startOrExit, stopGracefully } from '../../api/src/boot.js';

const { config, redis } = await boot(process.env, 'worker');
await startOrExit(redis, async () => {
  const parts = { config, redisUrl: redis.url, api: false, worker: true };
  const port = config.process.workerHealthPort;
  if (port === null) {
    stopGracefully(await createWorkerContext(parts), redis);
  } else {
    const app = await createHttpApp(parts);
    stopGracefully(app, redis);
    await app.listen(port, config.process.host);
  }
});
