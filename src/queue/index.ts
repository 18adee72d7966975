// Batch generation across machines on a Redis-backed BullMQ queue: push rows (batch's input
// format), workers answer them with batch's own code, collect writes batch's result format in
// input order. The CLI faces are `inference-guard queue push|status|collect` and `worker`.
export { pushRows } from "./push.js";
export type { PushOptions, PushSummary } from "./push.js";
export { runQueueWorker } from "./worker.js";
export type { QueueWorkerOptions, QueueWorkerSummary } from "./worker.js";
export { collectResults } from "./collect.js";
export type { CollectOptions, CollectSummary } from "./collect.js";
export { formatStatus, queueStatus } from "./status.js";
export type { QueueStatus } from "./status.js";
export { QueueStore, openQueue } from "./store.js";
export { closeRedis, connectRedis } from "./redis.js";
export { DEFAULT_REDIS_URL, REDIS_ENV } from "./config.js";
export type { PushSettings, QueueConnection, WorkerSettings } from "./config.js";
