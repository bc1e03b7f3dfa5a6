// The queue workers alone (run as many as needed against the same Redis and database).
import 'reflect-metadata';
import { createWorkerContext } from '../../api/src/app.js';
import { boot } from '../../api/src/boot.js';

const { config, redis } = await boot(process.env);
await createWorkerContext({ config, redisUrl: redis.url, api: false, worker: true });
if (redis.stop) process.once('exit', redis.stop);
