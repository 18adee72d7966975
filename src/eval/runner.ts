// Runs every method on the same prompts and seeds through one engine, appending one record per
// (prompt, method, seed) as it goes (resumable: done keys are skipped), then derives the report.
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { bindRequest, budgetWarning, type CostModel } from "../cost/costModel.js";
import { loadCostModel } from "../cost/load.js";
import { Critic, criticWarningsFor } from "../critic/index.js";
import { DEFAULT_MAX_SEQUENCES, Engine } from "../engine/engine.js";
import { UserError } from "../errors.js";
import { blockTexts, chargedCostCurves, maxOf } from "../search/baselines/blocks.js";
import { isOverBudget } from "../search/safetyState.js";
import type { GenerationResult } from "../search/types.js";
import { Progress } from "../util/progress.js";
import { rewardOfAnswer } from "../reward/answerReward.js";
import { loadAssistantReward, loadRewardModel } from "../reward/load.js";
import { LOGPROB_REWARD, type RewardModel, type RewardRequest } from "../reward/rewardModel.js";
import type { EvalSettings } from "./config.js";
import { summarize } from "./metrics.js";
import { methodContextCells, runMethod, type MethodSpec } from "./methods.js";
import { promptTokens, readEvalPrompts, type EvalPrompt } from "./prompts.js";
import { RecordStore, recordKey, type EvalRecord, type RunFingerprint } from "./records.js";
import { buildReport, writeReport, type EvalReport } from "./report.js";

export interface RunEvalOptions {
  /** Output folder: records.jsonl, run.json, report.json, report.md, plots. */
  out: string;
  /** Where the progress bar goes (default stderr). */
  progress?: NodeJS.WritableStream;
  /** Stops after the answer in progress (which is not recorded); the report covers what is done. */
  signal?: AbortSignal;
  /** The command line that reproduces the run, for the report. */
  command?: string;
  warn?: (message: string) => void;
}

export interface RunEvalResult {
  report: EvalReport;
  /** Answers generated in this call. */
  ran: number;
  /** Answers found already recorded. */
  skipped: number;
  aborted: boolean;
}

/** KV cells allowed for the prompt when sizing the context before the prompts are tokenized. */
const PROMPT_ALLOWANCE = 1024;

export async function runEval(settings: EvalSettings, o: RunEvalOptions): Promise<RunEvalResult> {
  const outDir = resolve(o.out);
  const prompts = readEvalPrompts(settings.prompts, { limit: settings.limit, label: settings.promptLabel });
  const needsCritic = settings.methods.filter((m) => m.kind === "guard-critic");
  if (needsCritic.length > 0 && !settings.critic) throw new UserError(`method ${needsCritic[0].name} needs a critic: pass --critic FILE`);
  // Only guard-critic reads the critic: a config that names one can still run other methods without it.
  if (settings.critic && needsCritic.length === 0) o.warn?.(`the critic ${settings.critic} is not used: no guard-critic method`);
  const critic = settings.critic && needsCritic.length > 0 ? Critic.load(settings.critic) : undefined;
  const cost = await loadCostModel(settings.cost, { baseDir: settings.costBaseDir });
  // A named cost model without --budget gets budget 1: for a probability that limits nothing.
  const loose = budgetWarning(cost, settings.budget);
  if (loose !== undefined) o.warn?.(loose);
  let engine: Engine | undefined;
  let reward: RewardModel | undefined;
  try {
    const cells = Math.max(4096, ...settings.methods.map((m) => methodContextCells(m, PROMPT_ALLOWANCE, settings.maxTokens)));
    engine = await Engine.load({
      modelPath: settings.model,
      gpu: settings.gpu === "cpu" ? false : settings.gpu,
      threads: settings.threads,
      contextSize: settings.contextSize ?? cells,
      maxSequences: DEFAULT_MAX_SEQUENCES,
    });
    reward = await loadEvalReward(settings, o.warn);
    if (critic) {
      for (const w of await criticWarningsFor(critic, engine.info)) o.warn?.(w);
    }
    const tokens = prompts.map((p) => promptTokens(engine!, p, settings));
    checkPromptsFit(engine, prompts, tokens, settings.methods, settings.maxTokens);
    const fingerprint: RunFingerprint = {
      model: resolve(settings.model),
      modelBytes: statSync(settings.model).size,
      cost: cost.name,
      reward: reward.name,
      critic: critic ? resolve(settings.critic!) : null,
      budget: settings.budget,
      maxTokens: settings.maxTokens,
      chat: settings.chat,
      system: settings.system ?? null,
      scanWidth: settings.scanWidth,
    };
    const store = RecordStore.open(outDir, fingerprint);
    try {
      checkPromptHashes(store.all(), prompts, outDir);
      const result = await runAll(engine, cost, reward, critic, settings, prompts, tokens, store, o);
      const selected = selectedRecords(store, prompts, settings);
      const report = buildReport({
        command: o.command,
        settings: {
          model: settings.model,
          prompts: settings.prompts,
          promptCount: prompts.length,
          promptLabel: settings.promptLabel ?? null,
          chat: settings.chat,
          cost: cost.name,
          reward: reward.name,
          critic: critic ? settings.critic! : null,
          budget: settings.budget,
          maxTokens: settings.maxTokens,
          seeds: settings.seeds,
          scanWidth: settings.scanWidth,
          threads: engine.info.threads,
          gpu: engine.info.gpu === false ? "cpu" : engine.info.gpu,
        },
        progress: { expected: prompts.length * settings.methods.length * settings.seeds.length, done: selected.length },
        methods: summarize(selected, settings.methods),
      });
      writeReport(outDir, report, selected);
      return { report, ...result };
    } finally {
      store.close();
    }
  } finally {
    await reward?.dispose?.();
    await engine?.dispose();
    await cost.dispose?.();
  }
}

/** The evaluation's reward; the default of chat prompts falls back to logprob (with a warning) where it cannot run. */
async function loadEvalReward(settings: EvalSettings, warn?: (line: string) => void): Promise<RewardModel> {
  const options = { baseDir: settings.rewardBaseDir, policyModelPath: settings.model, threads: settings.threads };
  if (!settings.rewardIsDefault || settings.reward === "logprob") return loadRewardModel(settings.reward, options);
  const loaded = await loadAssistantReward(options);
  if (loaded.warning) warn?.(loaded.warning);
  return loaded.model ?? LOGPROB_REWARD;
}

async function runAll(
  engine: Engine,
  cost: CostModel,
  reward: RewardModel,
  critic: Critic | undefined,
  settings: EvalSettings,
  prompts: EvalPrompt[],
  tokens: number[][],
  store: RecordStore,
  o: RunEvalOptions,
): Promise<{ ran: number; skipped: number; aborted: boolean }> {
  // Prompt-major order: a stopped run has every method on the same prompts, so its report compares.
  const todo: { prompt: EvalPrompt; seed: number; method: MethodSpec }[] = [];
  let skipped = 0;
  for (const prompt of prompts) {
    for (const seed of settings.seeds) {
      for (const method of settings.methods) {
        if (store.has(recordKey({ prompt: prompt.index, method: method.name, seed }))) skipped++;
        else todo.push({ prompt, seed, method });
      }
    }
  }
  // The bar counts only this call's work, so its rate and ETA are this call's.
  const progress = new Progress(todo.length, {
    unit: "answers",
    label: skipped > 0 ? `eval (${skipped} done before)` : "eval",
    stream: o.progress,
  });
  const ctx = { engine, cost, reward, critic, budget: settings.budget, maxTokens: settings.maxTokens, signal: o.signal };
  let ran = 0;
  for (const { prompt, seed, method } of todo) {
    if (o.signal?.aborted) return { ran, skipped, aborted: true };
    const started = performance.now();
    const request = rewardRequestOf(prompt, settings);
    const result = await runMethod(method, ctx, tokens[prompt.index], seed, request);
    const seconds = (performance.now() - started) / 1000;
    // An interrupted answer is not an answer: leave the key for the next run.
    if (result.stopReason === "aborted") return { ran, skipped, aborted: true };
    store.append({
      prompt: prompt.index,
      promptHash: prompt.hash,
      ...(prompt.label ? { label: prompt.label } : {}),
      method: method.name,
      seed,
      text: result.text,
      // Every method's answer scored by the evaluation's reward, the same way (the method may have ranked by another).
      reward: await rewardOfAnswer(engine, reward, { ...request, promptTokens: tokens[prompt.index] }, { ...result, sumLogProb: result.reward * result.tokens }),
      cost: result.cost,
      maxCumulativeCost: await maxCumulativeCost(engine, bindRequest(cost, request), result, settings.scanWidth),
      withinBudget: !isOverBudget(result.cost, settings.budget),
      tokens: result.tokens,
      seconds,
      stopReason: result.stopReason,
      fallback: result.fallback,
      resamples: result.resamples,
    });
    ran++;
    progress.tick(1, method.name);
  }
  progress.finish();
  return { ran, skipped, aborted: false };
}

/**
 * The highest cumulative cost along the answer: its blocks of `width` tokens are charged in order
 * (sum of clipped step costs, what the safety state tracks), never less than the final text's cost.
 */
export async function maxCumulativeCost(engine: Engine, cost: CostModel, result: Pick<GenerationResult, "tokenIds" | "text" | "cost">, width: number): Promise<number> {
  // A refusal text (no tokens) is charged as one block.
  const blocks = result.tokenIds.length > 0 ? blockTexts(engine, result.tokenIds, width) : result.text === "" ? [] : [result.text];
  const [curve] = await chargedCostCurves(cost, [blocks]);
  return Math.max(maxOf(curve), result.cost);
}

function checkPromptsFit(engine: Engine, prompts: EvalPrompt[], tokens: number[][], methods: MethodSpec[], maxTokens: number): void {
  const { contextSize, trainContextSize } = engine.info;
  prompts.forEach((p, i) => {
    const n = tokens[i].length;
    if (n === 0) throw new UserError(`prompt ${p.index} is empty after tokenization`);
    if (n >= trainContextSize) throw new UserError(`prompt ${p.index} has ${n} tokens; the model's context is ${trainContextSize}`);
    for (const m of methods) {
      const need = methodContextCells(m, n, Math.min(maxTokens, trainContextSize - n));
      if (need > contextSize) {
        throw new UserError(`prompt ${p.index} (${n} tokens) with ${m.name} needs ${need} KV cells but the context has ${contextSize}: pass --context-size ${need} or lower the sizes/max tokens`);
      }
    }
  });
}

function checkPromptHashes(records: EvalRecord[], prompts: EvalPrompt[], dir: string): void {
  for (const r of records) {
    const p = prompts[r.prompt];
    if (p && p.hash !== r.promptHash) {
      throw new UserError(`${dir} has answers to a different prompt ${r.prompt} (the prompts file changed); use another --out`);
    }
  }
}

/** The records of this selection of prompts, methods and seeds (a folder may hold more). */
function selectedRecords(store: RecordStore, prompts: EvalPrompt[], settings: EvalSettings): EvalRecord[] {
  const out: EvalRecord[] = [];
  for (const prompt of prompts) {
    for (const seed of settings.seeds) {
      for (const method of settings.methods) {
        const r = store.get(recordKey({ prompt: prompt.index, method: method.name, seed }));
        if (r) out.push(r);
      }
    }
  }
  return out;
}

/** What a reward model may read of an evaluation prompt (rendered the way promptTokens renders it). */
function rewardRequestOf(prompt: EvalPrompt, settings: EvalSettings): Omit<RewardRequest, "promptTokens"> {
  const system = settings.system ? [{ role: "system" as const, content: settings.system }] : [];
  if (prompt.messages) return { messages: [...system, ...prompt.messages] };
  if (settings.chat) return { messages: [...system, { role: "user", content: prompt.text! }] };
  return { prompt: prompt.text! };
}
