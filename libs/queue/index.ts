// Queues: names, job names and typed job data, the BullMQ module, the producer, and finding Redis.
export * from './job-queues.js';
export * from './queue.module.js';
export * from './queues.js';
export * from './redis.js';
