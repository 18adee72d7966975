// `queue status`: how many rows wait, run, are done or failed, and what each worker is doing.
// Workers are listed from what they record in Redis; "connected" comes from Redis's own client
// list (BullMQ names each worker's connection), so a killed worker shows as gone at once.
import type { Queue } from "bullmq";
import { formatDuration } from "../util/progress.js";
import type { QueueStore, WorkerRecord } from "./store.js";

export interface QueueStatus {
  queue: string;
  rows: number;
  /** Rows whose answer is stored. */
  answered: number;
  counts: { waiting: number; active: number; delayed: number; completed: number; failed: number };
  workers: Array<WorkerRecord & { connected: boolean }>;
  /** What the queue's workers answer with (the first worker's model, cost models and critic), if one has started. */
  answeredWith: string | null;
  seed: number | null;
}

export async function queueStatus(queue: Queue, store: QueueStore): Promise<QueueStatus> {
  const [rows, answered, counts, records, connections, answeredWith, seed] = await Promise.all([
    store.orderSize(),
    store.resultCount(),
    queue.getJobCounts("waiting", "active", "delayed", "completed", "failed", "prioritized"),
    store.loadWorkers(),
    queue.getWorkers(),
    store.getMeta("answeredWith"),
    store.getMeta("seed"),
  ]);
  // BullMQ names a worker's connections PREFIX:base64(QUEUE):w:NAME.
  const connected = new Set(
    connections.map((c) => {
      const raw = String((c as Record<string, unknown>).rawname ?? "");
      const at = raw.indexOf(":w:");
      return at >= 0 ? raw.slice(at + 3) : raw;
    }),
  );
  return {
    queue: store.queue,
    rows,
    answered,
    counts: {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
    },
    workers: records.map((r) => ({ ...r, connected: connected.has(r.name) })).sort((a, b) => a.startedAt - b.startedAt),
    answeredWith,
    seed: seed === null ? null : Number(seed),
  };
}

export function formatStatus(status: QueueStatus, now = Date.now()): string {
  const c = status.counts;
  const lines = [
    `queue "${status.queue}": ${status.rows} rows; waiting ${c.waiting}, active ${c.active}, done ${c.completed}, failed ${c.failed}` +
      (c.delayed > 0 ? `, ${c.delayed} waiting to be retried` : ""),
  ];
  if (status.answeredWith !== null) lines.push(`answered with ${status.answeredWith}; base seed ${status.seed}`);
  const live = status.workers.filter((w) => w.connected);
  lines.push(`workers: ${live.length} connected${status.workers.length > live.length ? `, ${status.workers.length - live.length} gone` : ""}`);
  for (const w of status.workers) {
    const state = w.connected
      ? w.current
        ? `answering row ${JSON.stringify(w.current.id)} (line ${w.current.line}) for ${formatDuration((now - w.current.since) / 1000)}`
        : "idle"
      : w.stoppedAt !== undefined
        ? `stopped ${formatDuration((now - w.stoppedAt) / 1000)} ago`
        : `gone (last seen ${formatDuration((now - w.lastSeen) / 1000)} ago)`;
    lines.push(`  ${w.name.padEnd(24)} done ${String(w.done).padStart(6)}  failed ${String(w.failed).padStart(4)}  ${state}`);
  }
  return lines.join("\n") + "\n";
}
