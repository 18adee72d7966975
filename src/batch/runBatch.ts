// An offline batch job: answers every prompt of a JSONL file with the guard and appends one result
// line per prompt. Re-running the same command resumes: ids already in the results are skipped.
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import type { Guard } from "../createGuard.js";
import { UserError } from "../errors.js";
import type { GuardOptions } from "../search/options.js";
import type { GenerationResult } from "../search/types.js";
import { DEFAULT_COST_NAME, type CostModelSet } from "../cost/costModelSet.js";
import { Progress } from "../util/progress.js";
import { readBatchInput, type BatchId, type BatchJob } from "./input.js";
import { RunLock } from "./lock.js";
import { ResultsFile } from "./results.js";

export interface BatchOptions {
  guard: Guard;
  /** The guard's cost model when it is a CostModelSet: lines may then pick a model by name. */
  costs?: CostModelSet;
  inputPath: string;
  outputPath: string;
  /** Search settings for lines that do not set them. */
  defaults?: GuardOptions;
  /** Method for lines that do not choose one (default guard). */
  method?: "guard" | "sample" | "greedy";
  /** Render string prompts with the model's chat template (messages always are). */
  chat?: boolean;
  /**
   * Base seed: a line without its own seed gets one derived from this and its id, so a resumed
   * run answers each prompt exactly as an uninterrupted one would. Default: random per line.
   */
  seed?: number;
  /** Stops after the prompt being generated (which is then not written). */
  signal?: AbortSignal;
  /** Where problems and the summary go (one line each). */
  report?: (line: string) => void;
  /** The progress bar's stream (default stderr). */
  progressStream?: NodeJS.WritableStream;
}

export interface BatchSummary {
  /** Valid prompts in the input. */
  prompts: number;
  /** Found in the results from an earlier run. */
  alreadyDone: number;
  /** Written by this run. */
  written: number;
  /** Input lines skipped (bad line, or a prompt the model refused, e.g. too long). */
  skipped: number;
  overBudget: number;
  fallbacks: number;
  interrupted: boolean;
  /** Bytes of an unfinished line a killed run had left, cut off before resuming. */
  repairedBytes: number;
  seconds: number;
}

/** One results line. */
export interface BatchResult {
  id: BatchId;
  text: string;
  cost: number;
  budget: number | null;
  withinBudget: boolean;
  seconds: number;
  tokens: number;
  method: string;
  costModel: string;
  stopReason: GenerationResult["stopReason"];
  fallback: boolean;
  resamples: number;
  seed: number;
  trace?: GenerationResult["trace"];
}

export async function runBatch(options: BatchOptions): Promise<BatchSummary> {
  const started = performance.now();
  const report = options.report ?? (() => {});
  const { guard, costs } = options;
  if (resolve(options.inputPath) === resolve(options.outputPath)) throw new UserError("--in and --out are the same file");
  const input = readBatchInput(options.inputPath, { defaults: options.defaults ?? {}, method: options.method ?? "guard", costNames: costs?.names() ?? [DEFAULT_COST_NAME], rewardNames: guard.rewardNames });
  for (const p of input.problems) report(`${options.inputPath} line ${p.line}: ${p.message} (skipped)`);

  const lock = RunLock.acquire(options.outputPath);
  const results = (() => {
    try {
      return ResultsFile.open(options.outputPath);
    } catch (error) {
      lock.release();
      throw error;
    }
  })();
  const summary: BatchSummary = {
    prompts: input.jobs.length,
    alreadyDone: 0,
    written: 0,
    skipped: input.problems.length,
    overBudget: 0,
    fallbacks: 0,
    interrupted: false,
    repairedBytes: results.repairedBytes,
    seconds: 0,
  };
  try {
    if (results.repairedBytes > 0) report(`${options.outputPath}: cut off an unfinished last line (${results.repairedBytes} bytes) left by an interrupted run`);
    const todo = input.jobs.filter((job) => !results.done.has(job.key));
    summary.alreadyDone = input.jobs.length - todo.length;
    if (summary.alreadyDone > 0) report(`resuming: ${summary.alreadyDone} of ${input.jobs.length} prompts already in ${options.outputPath}`);

    const progress = new Progress(input.jobs.length, { unit: "prompts", label: "batch", stream: options.progressStream });
    progress.resumeAt(summary.alreadyDone);
    // guard.parallel lanes answer prompts at once (their decodes shared); each result is appended
    // the moment it is done, so with more than one lane lines come in the order prompts finish.
    let next = 0;
    let fatal: { error: unknown } | undefined;
    const lane = async (): Promise<void> => {
      // Any error stops every lane, and the file closes only after the last lane has stopped.
      try {
        await laneLoop();
      } catch (error) {
        fatal ??= { error };
      }
    };
    const laneLoop = async (): Promise<void> => {
      while (next < todo.length && !fatal && !summary.interrupted) {
        if (options.signal?.aborted) {
          summary.interrupted = true;
          break;
        }
        const job = todo[next++];
        let result: GenerationResult;
        try {
          result = await answerJob(guard, costs, job, { seed: options.seed, chat: options.chat, signal: options.signal });
        } catch (error) {
          if (!(error instanceof UserError)) throw error;
          report(`${options.inputPath} line ${job.line} (id ${JSON.stringify(job.id)}): ${error.message} (skipped)`);
          summary.skipped++;
          progress.tick(1);
          continue;
        }
        if (result.stopReason === "aborted") {
          summary.interrupted = true; // cut short: not a result, the next run answers it again
          break;
        }
        results.append(resultRecord(job, result, costs?.select(job.settings.costName, isChatJob(job, options)).name));
        summary.written++;
        if (!result.withinBudget) summary.overBudget++;
        if (result.fallback) summary.fallbacks++;
        progress.tick(1, `over budget ${summary.overBudget}, fallbacks ${summary.fallbacks}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(guard.parallel, todo.length) }, lane));
    if (fatal) throw fatal.error;
    if (!summary.interrupted) progress.finish();
  } finally {
    results.close();
    lock.release();
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

/** How a job is answered besides its own settings: the run's base seed, chat rendering, cancellation. */
export interface AnswerOptions {
  /** Base seed (BatchOptions.seed): a job without its own seed gets seedFor(seed, job.key). */
  seed?: number;
  chat?: boolean;
  signal?: AbortSignal;
}

/**
 * Answers one job. The one place a batch line becomes a generation: `batch` and the queue's
 * workers (src/queue) both call it, so a row and base seed give the same answer in either.
 */
export function answerJob(guard: Guard, costs: CostModelSet | undefined, job: BatchJob, options: AnswerOptions): Promise<GenerationResult> {
  const { costName, options: settings } = job.settings;
  const seed = settings.seed ?? (options.seed !== undefined ? seedFor(options.seed, job.key) : undefined);
  const selected = costs?.select(costName, isChatJob(job, options), settings.budget);
  return guard.generate(job.input, {
    ...settings,
    ...selected?.options,
    seed,
    chat: options.chat === true,
    signal: options.signal,
  });
}

/** A job is a chat prompt when it has messages, or when string prompts are rendered as chat. */
export function isChatJob(job: BatchJob, options: { chat?: boolean }): boolean {
  return options.chat === true || typeof job.input !== "string";
}

/** A seed that depends only on the base seed and the id (not on line order or earlier runs). */
export function seedFor(base: number, key: string): number {
  return createHash("sha256").update(`${base}\n${key}`).digest().readUInt32BE(0) & 0x7fffffff;
}

/** The results line of a job (`batch` appends it to --out; the queue stores it in Redis for `collect`). */
export function resultRecord(job: BatchJob, result: GenerationResult, costModel = job.settings.costName ?? DEFAULT_COST_NAME): BatchResult {
  return {
    id: job.id,
    text: result.text,
    cost: result.cost,
    budget: result.budget,
    withinBudget: result.withinBudget,
    seconds: Number(result.seconds.toFixed(4)),
    tokens: result.tokens,
    method: result.method,
    costModel,
    stopReason: result.stopReason,
    fallback: result.fallback,
    resamples: result.resamples,
    seed: result.seed,
    ...(result.trace ? { trace: result.trace } : {}),
  };
}
