// The queue's settings, validated with zod: where Redis is and which queue (every command), how
// often a row may be tried (push), and a worker's lock and stalled-job timings. The timings'
// defaults are the production values; tests shorten them (see docs/scale-out.md).
import { z } from "zod";

export const REDIS_ENV = "INFERENCE_GUARD_REDIS";
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** $INFERENCE_GUARD_REDIS, else a Redis on this machine's default port. */
export function defaultRedisUrl(): string {
  return process.env[REDIS_ENV] || DEFAULT_REDIS_URL;
}

const redisUrlSchema = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== "";
    } catch {
      return false;
    }
  },
  { message: "expected a Redis URL such as redis://host:6379 (or rediss:// for TLS)" },
);

/** BullMQ builds Redis keys from the name (`bull:NAME:...`), so it stays to a safe alphabet. */
const queueNameSchema = z
  .string({ error: "is required" })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "use 1-100 letters, digits, '.', '_' or '-' (starting with a letter or digit)");

export const connectionSchema = z.object({ redis: redisUrlSchema, queue: queueNameSchema }).strict();
export type QueueConnection = z.output<typeof connectionSchema>;

export const pushSettingsSchema = z
  .object({
    /** Tries per row before it ends as failed with its reason (a poison row does not retry forever). */
    attempts: z.int().min(1).max(100).default(3),
    /** First retry delay; each next one doubles. */
    backoffMs: z.int().min(0).max(3_600_000).default(1000),
  })
  .strict();
export type PushSettings = z.input<typeof pushSettingsSchema>;

/** Production defaults of a worker's job lock and stalled-job checks (BullMQ's own defaults). */
export const DEFAULT_LOCK_DURATION_MS = 30_000;
export const DEFAULT_STALLED_INTERVAL_MS = 30_000;
export const DEFAULT_MAX_STALLED_COUNT = 1;
/** How long a stopping worker (or `collect --wait`) waits for a Redis that does not answer. */
export const DEFAULT_STOP_WAIT_MS = 5_000;

export const workerSettingsSchema = z
  .object({
    /**
     * How long a job stays locked to its worker without a renewal. A live worker renews it every
     * half of this; a killed worker's job goes back to the queue once it runs out (and a stalled
     * check sees it). Must be longer than the longest pause of the worker's event loop (one
     * decode step of the model).
     */
    lockDurationMs: z.int().min(200).max(3_600_000).default(DEFAULT_LOCK_DURATION_MS),
    /** How often each worker looks for jobs whose lock ran out (a dead worker's) and requeues them. */
    stalledIntervalMs: z.int().min(100).max(3_600_000).default(DEFAULT_STALLED_INTERVAL_MS),
    /** Times a row may lose its worker before it fails as "stalled more than allowable limit". */
    maxStalledCount: z.int().min(0).max(100).default(DEFAULT_MAX_STALLED_COUNT),
    /** Exit once nothing is waiting, delayed or active (benchmarks, one-shot runs); default: wait for more. */
    exitWhenEmpty: z.boolean().default(false),
    /**
     * Once told to stop, how long a worker waits for a Redis that does not answer (down, or stuck)
     * before it exits without storing the rows it holds; they go back to the queue when their locks
     * run out, as a killed worker's do. While Redis answers, it finishes and stores them.
     */
    stopWaitMs: z.int().min(0).max(600_000).default(DEFAULT_STOP_WAIT_MS),
  })
  .strict();
export type WorkerSettings = z.input<typeof workerSettingsSchema>;
export type ResolvedWorkerSettings = z.output<typeof workerSettingsSchema>;

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}
