// Every search, sampling and runtime setting, declared once: its name (the library option and the
// request field), CLI flag, type, range, default and one help line. The library's option schemas
// (src/search/options.ts), the CLI's flags and --help lines (src/cli/settingFlags.ts), the
// server's `guard` request field and batch rows (src/request/guardSettings.ts), and the eval and
// training configs are derived from here, the way llama.cpp's common/arg.cpp declares each flag
// once and prints its help from the real default.
import { z } from "zod";
import { DEFAULT_BUDGET } from "./cost/defaults.js";
import { DEFAULT_MAX_SEQUENCES, MAX_CONTEXT_SIZE, MAX_PARALLEL } from "./engine/constants.js";

/** How a value is written on the command line and typed in a request. */
export type SettingKind = "int" | "number" | "boolean" | "string" | "choice" | "strings";

export interface Setting<B extends z.ZodType = z.ZodType> {
  kind: SettingKind;
  /** Allowed values of a "choice". */
  choices?: readonly string[];
  /** The value's check (type, range, messages) without a default: configs with their own defaults reuse it. */
  base: B;
  /** The library's check: base with its default, or optional when it has none. */
  schema: z.ZodType;
  /** The library's default; undefined when there is none (see defaultText). */
  default: z.output<B> | undefined;
  /** What --help says when there is no fixed default. */
  defaultText?: string;
  /** Said after the default in --help. */
  note?: string;
  /** The CLI flag, without "--". */
  flag: string;
  /** The value's placeholder in --help ("" for a boolean flag). */
  metavar: string;
  /** One line for --help; the default is appended from `default`. */
  help: string;
  /**
   * Where a request may set it: "guard" in the server's `guard` body field and in a batch row's
   * `guard` object; "batch" only in a batch row's `guard` (a server request gives it in a
   * standard OpenAI field, e.g. max_tokens); absent: neither.
   */
  request?: "guard" | "batch";
}

type Meta = Pick<Setting, "flag" | "metavar" | "help" | "request" | "defaultText" | "note">;

function setting<B extends z.ZodType, const M extends Meta>(kind: SettingKind, base: B, value: z.output<B>, meta: M, choices?: readonly string[]): Setting<B> & M & { schema: z.ZodDefault<B> } {
  const schema = (base as unknown as { default(v: unknown): z.ZodDefault<B> }).default(value);
  return { kind, base, schema, default: value, ...meta, ...(choices ? { choices } : {}) };
}

function optional<B extends z.ZodType, const M extends Meta>(kind: SettingKind, base: B, meta: M): Setting<B> & M & { schema: z.ZodOptional<B> } {
  return { kind, base, schema: base.optional(), default: undefined, ...meta };
}

function choice<const C extends readonly [string, ...string[]], const M extends Meta>(choices: C, value: C[number], meta: M) {
  return setting("choice", z.enum(choices), value, meta, choices);
}

/**
 * Default criticWeight. Chosen on the training openings (stories260K, conflict lexicon, K=4, N=8,
 * W=8): the largest weight whose paired reward change stayed within half a standard error of 0
 * (0.03: -0.002 +/- 0.008 nats/token) while it cut the answers that spend budget from 40% to 15%.
 * Weight 1 cost 0.18 nats/token on the held-out openings (docs/critic.md).
 */
export const DEFAULT_CRITIC_WEIGHT = 0.03;

/** Settings of every decoding method (sampling and plain decoding use these alone). */
export const SAMPLING_SETTINGS = {
  temperature: setting("number", z.number().min(0).max(10), 1, { flag: "temperature", metavar: "X", help: "sampling temperature; 0 = greedy", request: "batch" }),
  topK: setting("int", z.number().int().min(0), 0, { flag: "top-k", metavar: "K", help: "keep only the K most likely tokens (0 = off)", request: "guard" }),
  topP: setting("number", z.number().gt(0).max(1), 1, { flag: "top-p", metavar: "P", help: "nucleus sampling mass (1 = off)", request: "batch" }),
  maxTokens: setting("int", z.number().int().min(1).max(1_000_000), 200, { flag: "max-tokens", metavar: "T", help: "answer length cap", request: "batch" }),
  /** Never end at an end-of-generation token: always write maxTokens (benchmarks, fixed-length runs). */
  ignoreEos: setting("boolean", z.boolean(), false, { flag: "ignore-eos", metavar: "", help: "never end at an end-of-generation token: always write the cap" }),
  seed: optional("int", z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), {
    flag: "seed",
    metavar: "S",
    help: "seed; the same seed gives the same answer",
    defaultText: "random, reported",
    request: "batch",
  }),
  /** The answer ends before the first stop sequence it would contain (stopReason "stop-sequence"). */
  stop: setting("strings", z.array(z.string().min(1, "a stop sequence must not be empty")).max(16, "at most 16 stop sequences"), [], {
    flag: "stop",
    metavar: "TEXT",
    help: "the answer ends before this text",
  }),
};

/** InferenceGuard's own settings (on top of the sampling ones). */
export const GUARD_SETTINGS = {
  /** Safety budget d: an answer is safe while its cumulative cost is <= d. */
  budget: setting("number", z.number().gt(0, "budget must be > 0").finite(), DEFAULT_BUDGET, {
    flag: "budget",
    metavar: "D",
    help: "safety budget: total cost allowed in the answer, > 0",
    request: "guard",
  }),
  /** K: beams kept after each block. */
  beams: setting("int", z.number().int().min(1).max(256), 4, { flag: "beams", metavar: "K", help: "beams kept per block", request: "guard" }),
  /**
   * N: candidates sampled per block, over all beams. Default by measurement (CPU, stories260K,
   * K=4, W=8, 200 tokens): N=4 cost 2.4x plain sampling, N=8 3.2x, N=16 5.3x; the paper used 128.
   * An engine must hold beams + samples sequences (see fitsSequences).
   */
  samples: setting("int", z.number().int().min(1).max(1024), 8, { flag: "samples", metavar: "N", help: "candidates per block, over all beams", request: "guard" }),
  /** W: tokens per block. */
  width: setting("int", z.number().int().min(1).max(1024), 8, { flag: "width", metavar: "W", help: "tokens per block", request: "guard" }),
  /** M: resampling rounds with penalised logits when every candidate is over budget. */
  maxResamples: setting("int", z.number().int().min(0).max(64), 2, {
    flag: "max-resamples",
    metavar: "M",
    help: "penalised resampling rounds when all candidates are unsafe",
    request: "guard",
  }),
  /** Logit penalty per unit of frequency among unsafe candidates, for the resampling rounds. */
  penalty: setting("number", z.number().min(0), 8, { flag: "penalty", metavar: "P", help: "logit penalty for tokens of unsafe candidates", request: "guard" }),
  /** Weight of the critic's penalised-return estimate in a candidate's score (see DEFAULT_CRITIC_WEIGHT). */
  criticWeight: setting("number", z.number().min(0), DEFAULT_CRITIC_WEIGHT, {
    flag: "critic-weight",
    metavar: "X",
    help: "weight of the critic in a candidate's score",
    note: "docs/critic.md",
    request: "guard",
  }),
  /** Return value the critic's safety head charges for a predicted violation. */
  violationPenalty: setting("number", z.number().min(0), 10, {
    flag: "violation-penalty",
    metavar: "P",
    help: "return the critic charges for a predicted budget violation",
    request: "guard",
  }),
  /** When no candidate stays within budget: keep the longest safe prefix, or answer with refusalText. */
  onUnsafe: choice(["truncate", "refuse"], "truncate", {
    flag: "on-unsafe",
    metavar: "MODE",
    help: "truncate (keep the longest safe prefix) or refuse",
    request: "guard",
  }),
  refusalText: setting("string", z.string(), "I can't continue this safely.", { flag: "refusal-text", metavar: "TEXT", help: "the answer of --on-unsafe refuse", request: "guard" }),
  /**
   * Where the search branches. "always": every block samples N candidates from K beams (the
   * paper's search). "auto": the first blocks do, then while no beam is at risk (see
   * DEFAULT_CRUISE_POLICY in src/search/cruise.ts) the best beam alone samples one block at a time,
   * like plain sampling, and a block that goes over budget or turns risky is searched in full
   * again. The budget holds either way; "auto" decodes about one row per answer token on safe text.
   */
  branch: choice(["auto", "always"], "auto", {
    flag: "branch",
    metavar: "MODE",
    help: "auto (search in full only where the text is at risk) or always",
    request: "guard",
  }),
  /** Record every candidate of every block. */
  trace: setting("boolean", z.boolean(), false, { flag: "trace", metavar: "", help: "record every candidate of every block", request: "guard" }),
};

export const SEARCH_SETTINGS = { ...SAMPLING_SETTINGS, ...GUARD_SETTINGS };
export type SearchSettingKey = keyof typeof SEARCH_SETTINGS;

/** The search settings a request may set where `R` says ("guard" or "batch", see Setting.request). */
export type RequestSettingKey<R extends "guard" | "batch"> = {
  [K in SearchSettingKey]: (typeof SEARCH_SETTINGS)[K]["request"] extends R ? K : never;
}[SearchSettingKey];

/** How llama.cpp runs (not part of an answer's settings: the same answer on any of them). */
const GPU_CHOICES = ["cpu", "auto", "cuda", "metal", "vulkan"] as const;
export type GpuChoice = (typeof GPU_CHOICES)[number];

export const RUNTIME_SETTINGS = {
  gpu: choice(GPU_CHOICES, "cpu", { flag: "gpu", metavar: "BACKEND", help: `llama.cpp backend: ${GPU_CHOICES.join(" | ")}` }),
  threads: optional("int", z.number().int().min(1), { flag: "threads", metavar: "N", help: "llama.cpp threads", defaultText: "1 for small models; else all cores up to 4, cores-1 above" }),
  contextSize: optional("int", z.number().int().min(1).max(MAX_CONTEXT_SIZE), {
    flag: "context-size",
    metavar: "N",
    help: "KV cache cells shared by the beams of one answer",
    defaultText: "enough for the search to reach the model's trained context, else 4096",
  }),
  /**
   * Answers generated at once by serve, batch and worker, all their candidates in one decode per
   * step (the library's createGuard defaults to 1: one generate() at a time). See docs/performance.md.
   */
  parallel: setting("int", z.number().int().min(1).max(MAX_PARALLEL), 4, {
    flag: "parallel",
    metavar: "P",
    help: "answers generated at once, sharing each decode (each has its own context)",
  }),
};
export type RuntimeSettingKey = keyof typeof RUNTIME_SETTINGS;

/**
 * The reward the searches rank by (src/reward/load.ts holds the kinds and the defaults). A model
 * setting, like the cost model: every command that loads a guard takes it (generate, serve, batch,
 * worker, eval).
 */
export const REWARD_SETTING = optional("string", z.string().min(1, "the reward spec must not be empty"), {
  flag: "reward",
  metavar: "SPEC",
  help: "what candidates are ranked by: logprob, or head:PATH (a reward head from train-reward)",
  defaultText: "logprob for completion prompts; the shipped chat reward (head:models/smollm2-135m-instruct-reward.json, on SmolLM2-135M-Instruct) for chat prompts",
});

export const SETTINGS = { ...SEARCH_SETTINGS, ...RUNTIME_SETTINGS, reward: REWARD_SETTING };
export type SettingKey = keyof typeof SETTINGS;

/** The zod shape of some settings, each with the library's default. */
export type ShapeOf<T extends Record<string, { schema: z.ZodType }>> = { [K in keyof T]: T[K]["schema"] };

export function shapeOf<T extends Record<string, { schema: z.ZodType }>>(settings: T): ShapeOf<T> {
  return Object.fromEntries(Object.entries(settings).map(([key, s]) => [key, s.schema])) as ShapeOf<T>;
}

/**
 * A block search (the guard, block beam search) holds its K beams and N candidates as sequences at
 * once; every engine the package loads holds DEFAULT_MAX_SEQUENCES. Configs checked before any
 * model loads (eval methods, critic-evidence) refuse more with this rule.
 */
export function fitsSequences(beams: number, samples: number): boolean {
  return beams + samples <= DEFAULT_MAX_SEQUENCES;
}

export const SEQUENCES_MESSAGE = `beams + samples must be at most ${DEFAULT_MAX_SEQUENCES} (the sequences an engine holds)`;
