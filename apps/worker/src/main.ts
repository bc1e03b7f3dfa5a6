// The queue workers alone (run as many as needed against the same Redis and database).
import 'reflect-metadata';
import { createWorkerContext } from '../../api/src/app.js';
import { boot, stopGracefully } from '../../api/src/boot.js';

const { config, redis } = await boot(process.env, 'worker');
const app = await createWorkerContext({ config, redisUrl: redis.url, api: false, worker: true });
stopGracefully(app, redis);
