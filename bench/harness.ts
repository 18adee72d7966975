// What sections 1-5 of bench/run.ts share: their settings (FULL, or QUICK with --quick), one
// engine on stories260K with the default lexicon, timed runs of plain sampling and of the guard
// (RunRecord) summarised per setting, the decode counter, and the printed transcript (print,
// progress) that run.ts also writes into the JSON.
import { join } from "node:path";
import type { RulesCostModel } from "../src/cost/rules.js";
import type { Critic, CriticActivation } from "../src/critic/index.js";
import type { Engine } from "../src/engine/engine.js";
import { SHARED_DIR } from "../src/paths.js";
import { generateGuarded } from "../src/search/guard.js";
import { generatePlain } from "../src/search/plain.js";
import type { GenerationResult } from "../src/search/types.js";
import { Progress, summarize, timed, wrapMethod, type Summary } from "./measure.js";

// ---- settings ----

export type Branch = "auto" | "always";

export interface Config {
  /** Measured runs per setting; each setting also gets one unmeasured warm-up run first. */
  seeds: number;
  maxTokens: number;
  beams: number;
  /** Section 1: (N, W, branch) settings of the guard. */
  guardSettings: Array<{ samples: number; width: number; branch: Branch }>;
  /** Section 2: the guard at its defaults (N=16, W=8) with a random critic of these hidden widths. */
  attributionCriticHidden: number[];
  /** Section 3: native vs TypeScript critic forward. */
  criticBench: { nEmbd: number[]; rows: number[]; hidden: number[]; samples: number; sampleMs: number };
  /** Section 4: answer lengths, at one (N, W). */
  lengths: number[];
  lengthSeeds: number;
  lengthSetting: { samples: number; width: number; branch: Branch };
  /**
   * Section 5: plain sampling per thread count, each on its own engine. deadlineMs caps each run:
   * 2 threads on 2 busy cores can slow down by orders of magnitude.
   */
  threads: { counts: number[]; tokens: number; seeds: number; deadlineMs: number };
}

// Sized for about a minute on a 2-core machine (well inside the 3-minute target).
export const FULL: Config = {
  seeds: 10,
  maxTokens: 200,
  beams: 4,
  guardSettings: [
    { samples: 8, width: 8, branch: "auto" },
    { samples: 4, width: 8, branch: "always" },
    { samples: 8, width: 8, branch: "always" },
    { samples: 16, width: 8, branch: "always" },
  ],
  attributionCriticHidden: [64, 64],
  criticBench: { nEmbd: [64, 2048], rows: [16, 256], hidden: [256, 256], samples: 7, sampleMs: 50 },
  lengths: [100, 200, 400],
  lengthSeeds: 8,
  // The full search: decoded/tok = N shows that no prefix is re-evaluated.
  lengthSetting: { samples: 8, width: 8, branch: "always" },
  threads: { counts: [1, 2], tokens: 200, seeds: 5, deadlineMs: 4_000 },
};

export const QUICK: Config = {
  ...FULL,
  seeds: 2,
  maxTokens: 50,
  criticBench: { ...FULL.criticBench, samples: 2, sampleMs: 10 },
  lengths: [25, 50, 100],
  lengthSeeds: 1,
  threads: { counts: [1, 2], tokens: 20, seeds: 1, deadlineMs: 2_000 },
};

export const PROMPT = "Once upon a time";
export const BUDGET = 1;
export const ACTIVATION: CriticActivation = "gelu";
export const MODEL_PATH = join(SHARED_DIR, "models", "stories260K.gguf");
/** Large enough for K=4 beams of the longest answer (see requiredContextCells in src/search/capacity.ts). */
export const CONTEXT_SIZE = 8192;

// ---- one generation, timed ----

export interface RunRecord {
  seed: number;
  ms: number;
  tokens: number;
  cost: number;
  withinBudget: boolean;
  fallback: boolean;
  resamples: number;
  stopReason: string;
}

export function record(seed: number, ms: number, r: GenerationResult): RunRecord {
  return {
    seed,
    ms,
    tokens: r.tokens,
    cost: r.cost,
    withinBudget: r.withinBudget,
    fallback: r.fallback,
    resamples: r.resamples,
    stopReason: r.stopReason,
  };
}

export interface Bench {
  engine: Engine;
  cost: RulesCostModel;
  prompt: number[];
}

/**
 * An AbortSignal that reads as aborted once `ms` have passed. The generation loop is synchronous,
 * so a timer (AbortSignal.timeout) could not fire inside it; the loop reads `aborted` every token.
 */
export function deadlineSignal(ms: number): AbortSignal {
  const signal = new AbortController().signal;
  const deadline = performance.now() + ms;
  Object.defineProperty(signal, "aborted", { get: () => performance.now() > deadline });
  return signal;
}

export async function runPlain(
  b: Bench,
  method: "sample" | "greedy",
  seed: number,
  maxTokens: number,
  engine = b.engine,
  deadlineMs?: number,
): Promise<RunRecord> {
  const signal = deadlineMs === undefined ? undefined : deadlineSignal(deadlineMs);
  const { ms, value } = await timed(() =>
    generatePlain({
      engine,
      promptTokens: b.prompt,
      method,
      options: { seed, maxTokens, ignoreEos: true },
      cost: b.cost,
      budget: BUDGET,
      signal,
    }),
  );
  return record(seed, ms, value);
}

export async function runGuard(
  b: Bench,
  seed: number,
  maxTokens: number,
  setting: { beams: number; samples: number; width: number; branch?: Branch } | undefined,
  critic?: Critic,
): Promise<RunRecord> {
  const { ms, value } = await timed(() =>
    generateGuarded({
      engine: b.engine,
      promptTokens: b.prompt,
      cost: b.cost,
      critic,
      // Without a setting the guard keeps its defaults (K=4, N=8, W=8, branch auto).
      options: { seed, maxTokens, ignoreEos: true, budget: BUDGET, ...setting },
    }),
  );
  return record(seed, ms, value);
}

/** Runs of one setting, summarised. Per-token times skip runs that wrote nothing (full fallback). */
export interface SettingResult {
  label: string;
  runs: RunRecord[];
  wallMs: Summary;
  msPerToken: Summary;
  tokens: Summary;
  overBudget: number;
  fallbacks: number;
}

export function settingResult(label: string, runs: RunRecord[]): SettingResult {
  return {
    label,
    runs,
    wallMs: summarize(runs.map((r) => r.ms)),
    msPerToken: summarize(runs.filter((r) => r.tokens > 0).map((r) => r.ms / r.tokens)),
    tokens: summarize(runs.map((r) => r.tokens)),
    overBudget: runs.filter((r) => !r.withinBudget).length,
    fallbacks: runs.filter((r) => r.fallback).length,
  };
}

export const seedList = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
/** Seed of the unmeasured warm-up runs. */
export const WARMUP_SEED = 0;

// ---- output ----

export const transcript: string[] = [];
export const progress = new Progress();

export function print(text = ""): void {
  progress.end();
  process.stdout.write(`${text}\n`);
  transcript.push(text);
}

/** Runs fn while counting the tokens the engine decodes (batched steps and prompt prefill). */
export async function countingDecodes<T>(engine: Engine, fn: () => Promise<T>): Promise<{ value: T; stepTokens: number; prefillTokens: number }> {
  const step = wrapMethod(engine, "step", "step", (args) => (args[0] as Int32Array).length);
  const prefill = wrapMethod(engine, "prefill", "prefill", (args) => (args[1] as readonly number[]).length);
  try {
    const value = await fn();
    return { value, stepTokens: step.timer.units, prefillTokens: prefill.timer.units };
  } finally {
    prefill.restore();
    step.restore();
  }
}
