// `queue push`: checks every line of a batch input file exactly as `batch` does (same parser, same
// per-line settings and messages), then queues the valid rows as BullMQ jobs whose id is the row's
// id. Pushing again (the same file, a fixed file, or after a push was killed) adds only what is not
// there yet: a row already queued is never added twice, and its answer is never redone.
import { randomInt } from "node:crypto";
import type { Queue } from "bullmq";
import { readBatchInput, type BatchJob, type ParseContext } from "../batch/input.js";
import { UserError, parseOptions } from "../errors.js";
import { pushSettingsSchema, type PushSettings } from "./config.js";
import { ROW_FORMAT, ROW_JOB_NAME, idOfKey, jobIdOf, keyOfJobId, type RowData } from "./rows.js";
import { canonicalJson, rowDigest, type QueueStore } from "./store.js";

export interface PushOptions {
  queue: Queue;
  store: QueueStore;
  inputPath: string;
  /** Search defaults, method and cost model names, as batch's flags give them. */
  context: ParseContext;
  /** Base seed (batch --seed); default: the queue's, else a random one chosen by the first push. */
  seed?: number;
  chat?: boolean;
  settings?: PushSettings;
  /** Where bad lines and notices go (one line each). */
  report?: (line: string) => void;
}

export interface PushSummary {
  /** Valid rows in the input. */
  rows: number;
  /** Rows queued by this push. */
  added: number;
  /** Rows that were already queued (by an earlier push of this file). */
  alreadyQueued: number;
  /** Input lines not queued: bad lines, and rows already queued with another prompt or settings. */
  skipped: number;
  /** The queue's base seed. */
  seed: number;
}

const CHUNK = 500;

export async function pushRows(options: PushOptions): Promise<PushSummary> {
  const report = options.report ?? (() => {});
  const { queue, store } = options;
  const settings = parseOptions(pushSettingsSchema, options.settings, "push settings");
  const input = readBatchInput(options.inputPath, options.context);
  for (const p of input.problems) report(`${options.inputPath} line ${p.line}: ${p.message} (skipped)`);
  if (input.jobs.length === 0) throw new UserError(`${options.inputPath} has no valid rows: nothing to push`);

  // Run-wide settings are the queue's: the first push fixes them, so every row of a queue is
  // answered as one batch run with one set of flags would answer it.
  const runSettings = canonicalJson({ defaults: options.context.defaults, method: options.context.method, chat: options.chat === true });
  const firstSettings = await store.claimMeta("settings", runSettings);
  if (firstSettings !== runSettings) {
    throw new UserError(
      `queue "${store.queue}" was first pushed with other settings (${firstSettings}; this push: ${runSettings}): ` +
        `push with the same flags, or use another --queue`,
    );
  }
  const seed = Number(await store.claimMeta("seed", String(options.seed ?? randomInt(0, 2 ** 31))));
  if (options.seed !== undefined && options.seed !== seed) {
    throw new UserError(`queue "${store.queue}" was first pushed with --seed ${seed}: push with --seed ${seed} (or without --seed), or use another --queue`);
  }

  // One queue holds one input file: every row keeps the line it was first pushed from, which is
  // collect's order. Check the whole file against that before queueing anything.
  const order = await store.loadOrder();
  const lineOf = new Map(order.map((o) => [o.jobId, o.line]));
  const jobIdAtLine = new Map(order.map((o) => [o.line, o.jobId]));
  for (const job of input.jobs) {
    const jobId = jobIdOf(job.key);
    const line = lineOf.get(jobId);
    const other = jobIdAtLine.get(job.line);
    if ((line !== undefined && line !== job.line) || (other !== undefined && other !== jobId)) {
      const was = line !== undefined ? `was queued from line ${line}` : `line ${job.line} held id ${JSON.stringify(idOfKey(keyOfJobId(other!)))}`;
      throw new UserError(
        `${options.inputPath} line ${job.line} (id ${JSON.stringify(job.id)}): ${was} when queue "${store.queue}" was first pushed; ` +
          `a queue takes one input file with its lines where they were (append new rows at the end, or use another --queue)`,
      );
    }
  }

  const summary: PushSummary = { rows: input.jobs.length, added: 0, alreadyQueued: 0, skipped: input.problems.length, seed };
  for (let start = 0; start < input.jobs.length; start += CHUNK) {
    const chunk = input.jobs.slice(start, start + CHUNK).map((job) => ({ job, jobId: jobIdOf(job.key), digest: rowDigest(job.input, job.settings) }));
    const digests = await store.rowDigests(chunk.map((c) => c.jobId));
    const fresh: typeof chunk = [];
    const known: typeof chunk = [];
    chunk.forEach((c, i) => {
      const digest = digests[i];
      if (digest === null || digest === undefined) fresh.push(c);
      else if (digest === c.digest) known.push(c);
      else {
        report(`${options.inputPath} line ${c.job.line} (id ${JSON.stringify(c.job.id)}): already queued with another prompt or settings (skipped; use another --queue to answer the new version)`);
        summary.skipped++;
      }
    });
    // A known row whose job is missing (and has no answer) was recorded by a push killed before it added the job.
    const exists = await store.jobsExist(known.map((c) => c.jobId));
    const jobless = known.filter((_, i) => !exists[i]);
    const answered = await store.getResults(jobless.map((c) => c.jobId));
    const missing = jobless.filter((_, i) => answered[i] === null);
    summary.alreadyQueued += known.length - missing.length;

    await store.recordRows(fresh.map((c) => ({ jobId: c.jobId, line: c.job.line, digest: c.digest })));
    const toAdd = [...fresh, ...missing];
    if (toAdd.length > 0) {
      // Adding a job whose id exists is a no-op in BullMQ, so a push racing another adds nothing twice.
      await queue.addBulk(
        toAdd.map((c) => ({
          name: ROW_JOB_NAME,
          data: rowData(c.job, seed, options.chat === true),
          opts: {
            jobId: c.jobId,
            attempts: settings.attempts,
            backoff: { type: "exponential", delay: settings.backoffMs },
            removeOnComplete: false,
            removeOnFail: false,
          },
        })),
      );
    }
    summary.added += toAdd.length;
  }
  return summary;
}

function rowData(job: BatchJob, seed: number, chat: boolean): RowData {
  return { format: ROW_FORMAT, job, seed, chat };
}
