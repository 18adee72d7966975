// A queue worker: takes one row at a time from the BullMQ queue, answers it with batch's own
// answerJob (so a row and seed give the same answer as `batch`), stores the results line in Redis,
// and only then returns, which is when BullMQ marks the job completed (the acknowledgement).
//
// What each failure does:
// - the worker is killed (SIGKILL, a crash, the machine goes away): its job's lock is no longer
//   renewed; once it runs out (lockDurationMs) a live worker's stalled check (every
//   stalledIntervalMs) puts the job back in the queue and another worker answers it. A row whose
//   worker dies more than maxStalledCount times fails as "stalled more than allowable limit".
// - told to stop (stop signal: SIGTERM/SIGINT in the CLI): takes no new row, finishes the current
//   ones (stores them, acknowledges them), then returns. If Redis does not answer while it stops
//   (down, or stuck) for stopWaitMs, it returns anyway without storing them: their locks run out
//   and they go back to the queue as a killed worker's do (nothing lost); the summary names them.
// - answering throws (a prompt longer than the context, an unknown cost model): BullMQ retries it
//   with backoff up to the row's attempts (push --attempts), then it ends as failed with the reason.
// - Redis goes away: every command waits while ioredis reconnects with backoff (logged); a job
//   whose lock ran out meanwhile is answered again by whoever takes it, with the same answer.
import { hostname } from "node:os";
import { UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { answerJob, isChatJob, resultRecord } from "../batch/runBatch.js";
import type { Guard } from "../createGuard.js";
import { UserError, parseOptions } from "../errors.js";
import type { CostModelSet } from "../cost/costModelSet.js";
import { connectionSchema, redactUrl, workerSettingsSchema, type QueueConnection, type WorkerSettings } from "./config.js";
import { closeRedis, connectRedis, describeRedisError, isConnectionError, whenRedisSilent } from "./redis.js";
import { parseRowData } from "./rows.js";
import { QUEUE_PREFIX, QueueStore, openQueue, type WorkerRecord } from "./store.js";

export interface QueueWorkerOptions {
  guard: Guard;
  /** The guard's cost models by name (rows may pick one), as for batch. */
  costs?: CostModelSet;
  connection: QueueConnection;
  settings?: WorkerSettings;
  /**
   * What this worker's answers depend on besides the row (model, cost models, critic), as one
   * line. The first worker of a queue records it; a worker with another one refuses to start, so a
   * queue's rows are all answered by the same model whichever worker takes them.
   */
  answeredWith: string;
  /** Worker name in status and in BullMQ (default HOST:PID). */
  name?: string;
  /** Stop: take no new row, finish the current one, return. */
  signal?: AbortSignal;
  /** Where notices go (one line each). */
  log?: (line: string) => void;
}

export interface QueueWorkerSummary {
  answered: number;
  /** Rows that failed for good while this worker held them. */
  failed: number;
  seconds: number;
  /**
   * Set when the worker stopped without Redis: why (e.g. "connection refused, nothing heard for
   * 5.0 s"), and the ids of the rows it held and could not store (they go back to the queue).
   */
  redisGone?: { reason: string; unstored: Array<string | number> };
}

const HEARTBEAT_MS = 5000;

export async function runQueueWorker(options: QueueWorkerOptions): Promise<QueueWorkerSummary> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const { redis, queue: queueName } = parseOptions(connectionSchema, options.connection, "queue connection");
  const settings = parseOptions(workerSettingsSchema, options.settings, "worker settings");
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const summary: QueueWorkerSummary = { answered: 0, failed: 0, seconds: 0 };
  if (options.signal?.aborted) return summary;

  let client: Redis;
  try {
    client = await connectRedis({ url: redis, waitForServer: true, log, signal: options.signal });
  } catch (error) {
    if (options.signal?.aborted) return summary; // told to stop before Redis answered
    throw error;
  }
  const store = new QueueStore(client, queueName);
  const record: WorkerRecord = {
    name,
    host: hostname(),
    pid: process.pid,
    model: options.answeredWith,
    startedAt: Date.now(),
    lastSeen: Date.now(),
    done: 0,
    failed: 0,
    current: null,
  };
  let worker: StoppableWorker | undefined;
  // Aborts the answers being written when the worker gives up on Redis (nobody could store them).
  const abandon = new AbortController();
  let gaveUp = false;
  const counts = openQueue(client, queueName);
  const timers: NodeJS.Timeout[] = [];
  try {
    const first = await store.claimMeta("answeredWith", options.answeredWith);
    if (first !== options.answeredWith) {
      throw new UserError(`queue "${queueName}" is answered with ${first}; this worker has ${options.answeredWith}: start it with the same model, cost models, reward and critic, or use another --queue`);
    }
    await store.saveWorker(record);

    // Rows being answered (up to the guard's `parallel` at once); status shows the oldest.
    const inFlight = new Map<string, NonNullable<WorkerRecord["current"]>>();
    const showCurrent = (): void => {
      record.current = inFlight.values().next().value ?? null;
    };
    const processRow = async (job: Job): Promise<{ stored: true }> => {
      const row = parseRowData(job.data);
      if ("error" in row) throw new UnrecoverableError(row.error); // retrying cannot fix it
      inFlight.set(job.id!, { jobId: job.id!, id: row.job.id, line: row.job.line, since: Date.now() });
      showCurrent();
      await store.saveWorker(record);
      const result = await answerJob(options.guard, options.costs, row.job, { seed: row.seed, chat: row.chat, signal: abandon.signal });
      if (result.stopReason === "aborted") throw new Error("the worker stopped without Redis before this row was stored");
      // Stored before this function returns, and BullMQ completes (acknowledges) the job only then.
      const costModel = options.costs?.select(row.job.settings.costName, isChatJob(row.job, { chat: row.chat })).name;
      await store.saveResult(job.id!, JSON.stringify(resultRecord(row.job, result, costModel)));
      summary.answered++;
      record.done++;
      inFlight.delete(job.id!);
      showCurrent();
      record.lastSeen = Date.now();
      await store.saveWorker(record);
      return { stored: true };
    };

    worker = new StoppableWorker(queueName, processRow, {
      connection: client,
      prefix: QUEUE_PREFIX,
      name,
      // Rows answered at once: the guard's slots share each decode (engine/slots.ts).
      concurrency: options.guard.parallel,
      lockDuration: settings.lockDurationMs,
      stalledInterval: settings.stalledIntervalMs,
      maxStalledCount: settings.maxStalledCount,
      autorun: false,
    });
    const errors = new ThrottledLog(log, 10_000);
    worker.on("error", (error) => {
      // Connection errors are the client's "Redis ... lost" notice already; after giving up, all is noise.
      if (gaveUp || isConnectionError(error) || client.status !== "ready") return;
      errors.write(`worker error: ${describeRedisError(error)}`);
    });
    worker.on("failed", (job, error) => {
      if (!job || gaveUp) return;
      const attempts = job.opts.attempts ?? 1;
      const final = error instanceof UnrecoverableError || error.name === "UnrecoverableError" || job.attemptsMade >= attempts;
      const id = JSON.stringify(parseRowId(job));
      if (final) {
        summary.failed++;
        record.failed++;
        log(`row ${id} failed for good after ${job.attemptsMade} attempt(s): ${error.message}`);
      } else {
        log(`row ${id} failed (attempt ${job.attemptsMade} of ${attempts}; it will be retried): ${error.message}`);
      }
      if (job.id !== undefined) inFlight.delete(job.id);
      showCurrent();
      void store.saveWorker(record).catch(() => {});
    });
    worker.on("stalled", (jobId) => log(`row job ${jobId} lost its worker; it is back in the queue`));

    const stop = new Promise<void>((resolve) => {
      if (options.signal?.aborted) resolve();
      options.signal?.addEventListener("abort", () => resolve(), { once: true });
      if (settings.exitWhenEmpty) {
        const check = async (): Promise<void> => {
          const c = await counts.getJobCounts("waiting", "active", "delayed", "prioritized", "waiting-children");
          if (Object.values(c).every((n) => n === 0)) resolve();
        };
        timers.push(setInterval(() => void check().catch(() => {}), Math.min(1000, settings.stalledIntervalMs)));
      }
    });
    timers.push(
      setInterval(() => {
        record.lastSeen = Date.now();
        void store.saveWorker(record).catch(() => {});
      }, HEARTBEAT_MS),
    );
    const running = worker.run();
    log(`worker ${name}: answering queue "${queueName}" at ${redactUrl(redis)}`);
    await Promise.race([stop, running]);
    if (worker.isRunning() && inFlight.size > 0) log(`finishing ${[...inFlight.values()].map((r) => `row ${JSON.stringify(r.id)}`).join(", ")}, then stopping`);
    // Finish and store the rows being answered, as long as Redis answers: a Redis that is down or
    // stuck for stopWaitMs ends the wait (the rows then come back like a killed worker's).
    const closing = worker;
    const graceful = (async () => {
      await closing.close(); // waits for the rows being answered
      await running.catch(() => {});
      record.stoppedAt = Date.now();
      record.current = null;
      await store.saveWorker(record).catch(() => {});
    })();
    const watch = whenRedisSilent(client, settings.stopWaitMs);
    const reason = await Promise.race([graceful.then(() => undefined), watch.gone]);
    watch.stop();
    if (reason !== undefined) {
      gaveUp = true;
      summary.redisGone = { reason, unstored: [...inFlight.values()].map((r) => r.id) };
      // Connections first, so nothing about these rows reaches Redis; then stop their answers.
      client.disconnect();
      await within(closing.abandon(), 1000);
      abandon.abort();
    }
  } finally {
    for (const timer of timers) clearInterval(timer);
    // Bounded: with Redis gone, BullMQ's close would wait for it.
    if (worker && !worker.closing) await within(worker.close(true), 1000);
    await within(counts.close(), 1000);
    await closeRedis(client);
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

/**
 * BullMQ's Worker, plus a way out while its close() waits on a Redis that is gone: close() stops
 * the lock renewals and the stalled checks (timers that would keep the process alive) only after
 * the rows being answered are acknowledged, which then never happens.
 */
class StoppableWorker extends Worker {
  /** Stops renewing locks (the rows' locks then run out: they go back to the queue), stops the stalled checks, drops the blocking connection. */
  async abandon(): Promise<void> {
    await this.lockManager.close();
    await this.pause(true); // doNotWaitActive: stops the stalled checker without waiting for the rows
    await this.disconnect().catch(() => {});
  }
}

/** Waits for a promise at most `ms` (its rejection ignored). */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function parseRowId(job: Job): unknown {
  const row = parseRowData(job.data);
  return "error" in row ? job.id : row.job.id;
}

/** Logs a line unless the same line was logged less than `intervalMs` ago (a reconnect loop repeats itself). */
class ThrottledLog {
  private readonly last = new Map<string, number>();
  constructor(
    private readonly log: (line: string) => void,
    private readonly intervalMs: number,
  ) {}

  write(line: string): void {
    const now = Date.now();
    if (now - (this.last.get(line) ?? -Infinity) < this.intervalMs) return;
    this.last.set(line, now);
    this.log(line);
  }
}
