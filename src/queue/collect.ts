// `queue collect`: writes the queue's answers to a JSONL file, exactly one line per input row, in
// input order, in batch's result format (the very line a worker stored). A row that failed for
// good gets one line {id, error, attempts} instead. The file is written with batch's ResultsFile
// (each line whole, fsynced), so collect is resumable: run it again and it continues after the
// last line written, having cut off a torn last line if it was killed mid-write.
import type { Queue } from "bullmq";
import { RunLock } from "../batch/lock.js";
import { ResultsFile } from "../batch/results.js";
import { UserError } from "../errors.js";
import { Progress } from "../util/progress.js";
import { DEFAULT_STOP_WAIT_MS } from "./config.js";
import { whenRedisSilent } from "./redis.js";
import { idOfKey, keyOfJobId, parseRowData } from "./rows.js";
import type { OrderEntry, QueueStore } from "./store.js";

export interface CollectOptions {
  queue: Queue;
  store: QueueStore;
  outputPath: string;
  /** Wait for every row to be answered (or fail), with a progress bar; default: write what is ready, in order, and return. */
  wait?: boolean;
  /** Poll interval while waiting (default 500 ms). */
  pollMs?: number;
  /**
   * Stops waiting (what was written stays; run again to resume). A Redis that does not answer for
   * stopWaitMs after it fires is disconnected, so a stop never waits on it for longer.
   */
  signal?: AbortSignal;
  /** See signal (default 5 s). */
  stopWaitMs?: number;
  report?: (line: string) => void;
  /** The progress bar's stream (default stderr); only with wait. */
  progressStream?: NodeJS.WritableStream;
}

export interface CollectSummary {
  /** Rows in the queue. */
  rows: number;
  /** Lines already in the file from an earlier collect. */
  alreadyDone: number;
  /** Lines written by this run (answers and failures). */
  written: number;
  /** Rows that failed for good, in the whole file. */
  failed: number;
  /** Every row has its line. */
  complete: boolean;
  /** When not complete: the first row without an answer yet, and what it is doing. */
  next?: { id: string | number; line: number; state: string };
  interrupted: boolean;
  /** Set when the stop had to give up on Redis: why (e.g. "connection refused, nothing heard for 5.0 s"). */
  redisGone?: string;
  repairedBytes: number;
}

const PAGE = 500;

export async function collectResults(options: CollectOptions): Promise<CollectSummary> {
  const report = options.report ?? (() => {});
  const { queue, store } = options;
  let order = await store.loadOrder();
  if (order.length === 0) throw new UserError(`queue "${store.queue}" has no rows: push an input file to it first (inference-guard queue push)`);

  const lock = RunLock.acquire(options.outputPath);
  let results: ResultsFile;
  try {
    results = ResultsFile.open(options.outputPath);
  } catch (error) {
    lock.release();
    throw error;
  }
  try {
    const summary: CollectSummary = {
      rows: order.length,
      alreadyDone: results.done.size,
      written: 0,
      failed: results.failedLines,
      complete: false,
      interrupted: false,
      repairedBytes: results.repairedBytes,
    };
    if (results.repairedBytes > 0) report(`${options.outputPath}: cut off an unfinished last line (${results.repairedBytes} bytes) left by an interrupted collect`);
    checkPrefix([...results.done], order, options.outputPath, store.queue);
    if (summary.alreadyDone > 0) report(`resuming: ${summary.alreadyDone} of ${order.length} rows already in ${options.outputPath}`);

    const progress = options.wait ? new Progress(order.length, { unit: "rows", label: "collect", stream: options.progressStream }) : undefined;
    progress?.resumeAt(summary.alreadyDone);
    let position = summary.alreadyDone;
    // Told to stop: a Redis that stays silent (down, or stuck) is given up on (and disconnected):
    // the command waiting on it is left behind, and every line written so far is whole and stays.
    let watch: ReturnType<typeof whenRedisSilent> | undefined;
    let giveUp: (reason: string) => void = () => {};
    const gaveUp = new Promise<string>((resolve) => (giveUp = resolve));
    const onStop = (): void => {
      watch = whenRedisSilent(store.client, options.stopWaitMs ?? DEFAULT_STOP_WAIT_MS);
      void watch.gone.then(giveUp);
    };
    if (options.signal?.aborted) onStop();
    else options.signal?.addEventListener("abort", onStop, { once: true });
    let stopped = false;
    const loop = async (): Promise<void> => {
      for (;;) {
        const step = await writeReady(order, position, queue, store, results, () => stopped);
        position = step.position;
        summary.written += step.written;
        summary.failed += step.failed;
        if (step.written > 0 || progress) {
          const counts = progress ? await queue.getJobCounts("waiting", "active", "delayed", "failed") : undefined;
          const note = counts ? `waiting ${counts.waiting + counts.delayed}, active ${counts.active}, failed ${counts.failed}` : undefined;
          progress?.tick(step.written, note);
        }
        if (stopped) return;
        if (position >= order.length) {
          // Rows pushed while collecting belong to the queue too.
          const size = await store.orderSize();
          if (stopped) return;
          if (size === order.length) break;
          order = await store.loadOrder();
          if (stopped) return;
          summary.rows = order.length;
          continue;
        }
        summary.next = step.next;
        if (!options.wait) break;
        if (options.signal?.aborted) {
          summary.interrupted = true;
          break;
        }
        await sleep(options.pollMs ?? 500, options.signal);
        if (options.signal?.aborted) {
          summary.interrupted = true;
          break;
        }
      }
    };
    try {
      const reason = await Promise.race([loop().then(() => undefined), gaveUp]);
      if (reason !== undefined) {
        stopped = true; // the loop, if Redis ever answers it, writes nothing more
        summary.redisGone = reason;
        summary.interrupted = true;
        store.client.disconnect();
      }
    } finally {
      options.signal?.removeEventListener("abort", onStop);
      watch?.stop();
    }
    summary.complete = position >= order.length;
    if (summary.complete) summary.next = undefined;
    if (summary.complete) progress?.finish();
    return summary;
  } finally {
    results.close();
    lock.release();
  }
}

/** Appends every row from `position` on that has its line ready, stopping at the first that does not. */
async function writeReady(
  order: readonly OrderEntry[],
  position: number,
  queue: Queue,
  store: QueueStore,
  results: ResultsFile,
  stopped: () => boolean,
): Promise<{ position: number; written: number; failed: number; next?: CollectSummary["next"] }> {
  let written = 0;
  let failed = 0;
  while (position < order.length) {
    const page = order.slice(position, position + PAGE);
    const lines = await store.getResults(page.map((o) => o.jobId));
    if (stopped()) return { position, written, failed };
    for (let i = 0; i < page.length; i++) {
      const entry = page[i]!;
      const stored = lines[i];
      if (stored !== null && stored !== undefined) {
        results.append(JSON.parse(stored) as object);
      } else {
        const state = await queue.getJobState(entry.jobId);
        if (stopped()) return { position, written, failed };
        if (state !== "failed") {
          const id = idOfKey(keyOfJobId(entry.jobId));
          // "unknown": recorded by a push that was killed before it added the job; pushing again adds it.
          return { position, written, failed, next: { id, line: entry.line, state: state === "unknown" ? "not queued (push the file again)" : state } };
        }
        const job = await queue.getJob(entry.jobId);
        if (stopped()) return { position, written, failed };
        const row = job ? parseRowData(job.data) : undefined;
        const id = row && !("error" in row) ? row.job.id : idOfKey(keyOfJobId(entry.jobId));
        results.append({ id, error: job?.failedReason ?? "failed", attempts: job?.attemptsMade ?? 0 });
        failed++;
      }
      written++;
      position++;
    }
  }
  return { position, written, failed };
}

/** The file must hold the queue's first rows in order, and nothing else (else it is another queue's file). */
function checkPrefix(doneKeys: readonly string[], order: readonly OrderEntry[], path: string, queueName: string): void {
  const mismatch = doneKeys.findIndex((key, i) => i >= order.length || keyOfJobId(order[i]!.jobId) !== key);
  if (mismatch === -1) return;
  const found = JSON.stringify(idOfKey(doneKeys[mismatch]!));
  const expected = mismatch < order.length ? `id ${JSON.stringify(idOfKey(keyOfJobId(order[mismatch]!.jobId)))}` : "no row (the queue has fewer)";
  throw new UserError(`${path} line ${mismatch + 1} is id ${found}, but queue "${queueName}" has ${expected} there: it was not collected from this queue; use another --out`);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
