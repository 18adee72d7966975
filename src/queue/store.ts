// What the queue keeps in Redis besides BullMQ's own jobs, under the queue's keys
// (`bull:NAME:ig:*`; BullMQ job ids never contain ':', so these cannot collide with a job):
//   order    sorted set  job id -> input line: collect's order (one queue holds one input file)
//   rows     hash        job id -> digest of the row's prompt and settings (a changed row is refused on push)
//   results  hash        job id -> the results line, exactly as batch writes it; a worker stores it
//                        here before it acknowledges the job, and collect reads it
//   meta     hash        the first push's settings and seed; the first worker's model and cost models
//   workers  hash        worker name -> its counters and current row (for status)
import { createHash } from "node:crypto";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";

/** BullMQ's key prefix (its default), fixed so every command finds the same queue. */
export const QUEUE_PREFIX = "bull";

export function openQueue(client: Redis, name: string): Queue {
  const queue = new Queue(name, { connection: client, prefix: QUEUE_PREFIX });
  // A Queue with no 'error' listener prints each connection error as a raw object (BullMQ's
  // fallback when emitting 'error' throws); the client's own one-line notices say Redis is gone.
  queue.on("error", () => {});
  return queue;
}

export interface OrderEntry {
  jobId: string;
  line: number;
}

export interface WorkerRecord {
  name: string;
  host: string;
  pid: number;
  /** What the worker answers with (model file, cost models, critic). */
  model: string;
  startedAt: number;
  /** Last heartbeat (ms since epoch). */
  lastSeen: number;
  done: number;
  failed: number;
  /** The row being answered, if any. */
  current: { jobId: string; id: string | number; line: number; since: number } | null;
  stoppedAt?: number;
}

export class QueueStore {
  constructor(
    readonly client: Redis,
    readonly queue: string,
  ) {}

  private key(name: "order" | "rows" | "results" | "meta" | "workers"): string {
    return `${QUEUE_PREFIX}:${this.queue}:ig:${name}`;
  }

  /** The Redis key of BullMQ's hash for one job (BullMQ's layout: PREFIX:QUEUE:JOBID). */
  jobKey(jobId: string): string {
    return `${QUEUE_PREFIX}:${this.queue}:${jobId}`;
  }

  /** Every row in input order. */
  async loadOrder(): Promise<OrderEntry[]> {
    const entries: OrderEntry[] = [];
    const page = 10_000;
    for (let start = 0; ; start += page) {
      const flat = await this.client.zrange(this.key("order"), start, start + page - 1, "WITHSCORES");
      for (let i = 0; i < flat.length; i += 2) entries.push({ jobId: flat[i]!, line: Number(flat[i + 1]) });
      if (flat.length < page * 2) return entries;
    }
  }

  async orderSize(): Promise<number> {
    return this.client.zcard(this.key("order"));
  }

  /** Digests of the rows already pushed (null where a row is new). */
  async rowDigests(jobIds: readonly string[]): Promise<(string | null)[]> {
    return jobIds.length === 0 ? [] : this.client.hmget(this.key("rows"), ...jobIds);
  }

  /** Records rows (order and digest) in one transaction, before their jobs are added. */
  async recordRows(rows: ReadonlyArray<OrderEntry & { digest: string }>): Promise<void> {
    if (rows.length === 0) return;
    await this.client
      .multi()
      .zadd(this.key("order"), "NX", ...rows.flatMap((r) => [r.line, r.jobId]))
      .hset(this.key("rows"), Object.fromEntries(rows.map((r) => [r.jobId, r.digest])))
      .exec();
  }

  /** Which of these jobs exist in BullMQ (a push killed between recordRows and adding the jobs leaves some out). */
  async jobsExist(jobIds: readonly string[]): Promise<boolean[]> {
    if (jobIds.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (const jobId of jobIds) pipeline.exists(this.jobKey(jobId));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, count]) => {
      if (error) throw error;
      return count === 1;
    });
  }

  async saveResult(jobId: string, line: string): Promise<void> {
    await this.client.hset(this.key("results"), jobId, line);
  }

  async getResults(jobIds: readonly string[]): Promise<(string | null)[]> {
    return jobIds.length === 0 ? [] : this.client.hmget(this.key("results"), ...jobIds);
  }

  async resultCount(): Promise<number> {
    return this.client.hlen(this.key("results"));
  }

  async getMeta(field: string): Promise<string | null> {
    return this.client.hget(this.key("meta"), field);
  }

  /** Sets a meta field unless it is set; returns the value now stored. */
  async claimMeta(field: string, value: string): Promise<string> {
    const [[, _set], [error, stored]] = ((await this.client.multi().hsetnx(this.key("meta"), field, value).hget(this.key("meta"), field).exec()) ?? []) as [
      [Error | null, unknown],
      [Error | null, string],
    ];
    if (error) throw error;
    return stored;
  }

  async saveWorker(record: WorkerRecord): Promise<void> {
    await this.client.hset(this.key("workers"), record.name, JSON.stringify(record));
  }

  async loadWorkers(): Promise<WorkerRecord[]> {
    const all = await this.client.hgetall(this.key("workers"));
    return Object.values(all).map((json) => JSON.parse(json) as WorkerRecord);
  }
}

/** A row's digest: its prompt and settings (not its line), so an edited row is told from a re-pushed one. */
export function rowDigest(input: unknown, settings: unknown): string {
  return createHash("sha256").update(canonicalJson({ input, settings })).digest("hex").slice(0, 32);
}

/** JSON with object keys sorted, so the same values give the same text whatever order a line wrote them in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
