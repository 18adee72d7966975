// An evaluation's settings: a zod-validated config file (version 1) and/or command-line flags
// (flags win). Relative paths in a config file are resolved against the file's folder, so a
// config can ship beside its data (models/testbed/eval-stories.json).
import { readUserFile } from "../util/files.js";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { DEFAULT_BUDGET, defaultCost } from "../cost/defaults.js";
import { defaultReward } from "../reward/load.js";
import { UserError, describeZodError } from "../errors.js";
import { resolveModel, isKnownModelName } from "../models/index.js";
import { defaultModelPath } from "../paths.js";
import { METHOD_KINDS, checkMethods, methodFromConfig, parseMethodList, type MethodSpec } from "./methods.js";
import { RUNTIME_SETTINGS, SEARCH_SETTINGS, type GpuChoice } from "../settings.js";
import { PROMPT_LABELS, type PromptLabel } from "./prompts.js";

export const EVAL_CONFIG_VERSION = 1;

const methodEntrySchema = z.union([
  z.string().min(1),
  z.object({ method: z.enum(METHOD_KINDS as [string, ...string[]]) }).catchall(z.union([z.number(), z.string()])),
]);

/** Everything an evaluation needs; every field but `prompts` and `methods` has a default. */
export const evalConfigSchema = z
  .object({
    version: z.literal(EVAL_CONFIG_VERSION),
    /** GGUF path, or a known model's name once fetched (default: $INFERENCE_GUARD_MODEL, else stories260K; chat: smollm2-135m-instruct). */
    model: z.string().min(1).optional(),
    /** Prompt file: .jsonl or .json (see src/eval/prompts.ts). */
    prompts: z.string().min(1),
    /** Label every prompt harmful or harmless (default: the file's own labels, if any). */
    promptLabel: z.enum(PROMPT_LABELS).optional(),
    /** Take the first N prompts. */
    limit: z.number().int().min(1).optional(),
    /** Render prompts with the model's chat template. */
    chat: z.boolean().default(false),
    /** System message for chat prompts. */
    system: z.string().optional(),
    /** Cost model spec, e.g. "rules:PATH" (default: the one made for the prompts' kind, src/cost/defaults.ts). */
    cost: z.string().min(1).optional(),
    /** Reward spec ("logprob", "head:PATH"): what ranking methods maximise and every answer is scored by (default: the prompts' kind's, src/reward/load.ts). */
    reward: z.string().min(1).optional(),
    /** Critic file (needed by guard-critic). */
    critic: z.string().min(1).optional(),
    /** Safety budget d: an answer is within budget while its cost is <= d (default: the default cost model's). */
    budget: SEARCH_SETTINGS.budget.base.optional(),
    /** Answer length cap in tokens (100 for an evaluation). */
    maxTokens: SEARCH_SETTINGS.maxTokens.base.default(100),
    /** Every method runs once per prompt and seed. */
    seeds: z.array(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)).min(1).default([1]),
    /** Block width (tokens) of the scan that measures every answer's max cumulative cost. */
    scanWidth: SEARCH_SETTINGS.width.schema,
    methods: z.array(methodEntrySchema).min(1),
    threads: RUNTIME_SETTINGS.threads.schema,
    contextSize: RUNTIME_SETTINGS.contextSize.schema,
    gpu: RUNTIME_SETTINGS.gpu.schema,
  })
  .strict()
  .refine((c) => new Set(c.seeds).size === c.seeds.length, { message: "seeds must be distinct", path: ["seeds"] });

export type EvalConfigFile = z.input<typeof evalConfigSchema>;

/** Settings with paths resolved and methods parsed. */
export interface EvalSettings {
  model: string;
  prompts: string;
  promptLabel?: PromptLabel;
  limit?: number;
  chat: boolean;
  system?: string;
  cost: string;
  /** Folder that relative paths inside the cost spec are resolved against. */
  costBaseDir: string;
  reward: string;
  /** Whether the reward is the default of the prompts' kind (it may fall back to logprob where it cannot run). */
  rewardIsDefault: boolean;
  rewardBaseDir: string;
  critic?: string;
  budget: number;
  maxTokens: number;
  seeds: number[];
  scanWidth: number;
  methods: MethodSpec[];
  threads?: number;
  contextSize?: number;
  gpu: GpuChoice;
}

/** Flag values, already typed (undefined = not given). Paths are relative to the working directory. */
export type EvalOverrides = Partial<Omit<EvalConfigFile, "version" | "methods">> & { methods?: string };

/** Reads and validates a config file (no flags). */
export function readEvalConfigFile(path: string): unknown {
  const text = readUserFile(path, "config file", "utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Merges a config file (optional) with flag overrides and validates the result. Paths from the file
 * are resolved against its folder, paths from flags against `cwd`.
 */
export function resolveEvalSettings(configPath: string | undefined, overrides: EvalOverrides, cwd = process.cwd()): EvalSettings {
  const fileDir = configPath ? dirname(resolve(cwd, configPath)) : cwd;
  const fromFile = configPath ? readEvalConfigFile(resolve(cwd, configPath)) : { version: EVAL_CONFIG_VERSION };
  if (typeof fromFile !== "object" || fromFile === null || Array.isArray(fromFile)) {
    throw new UserError(`config file ${configPath} must hold a JSON object`);
  }
  const file = fromFile as Record<string, unknown>;
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as EvalOverrides;
  const { methods: methodFlag, ...flagValues } = given;
  const merged: Record<string, unknown> = { ...file, ...flagValues };
  // Placeholder so the schema can check the rest when methods come from the flag.
  if (methodFlag !== undefined) merged.methods = ["greedy"];
  if (!configPath && merged.prompts === undefined) throw new UserError("--prompts FILE is required (or --config FILE; see --help)");
  if (!configPath && methodFlag === undefined) throw new UserError("--methods is required (or --config FILE; see --help)");
  const parsed = evalConfigSchema.safeParse(merged);
  if (!parsed.success) {
    throw new UserError(`invalid evaluation settings${configPath ? ` (config ${configPath})` : ""}: ${describeZodError(parsed.error)}`);
  }
  const c = parsed.data;
  const pathFrom = (key: "model" | "prompts" | "critic"): string | undefined => {
    const value = c[key];
    if (value === undefined) return undefined;
    if (key === "model" && isKnownModelName(value)) return resolveModel(value);
    return resolve(key in flagValues ? cwd : fileDir, value);
  };
  const methods = methodFlag !== undefined ? parseMethodList(methodFlag) : checkMethods((c.methods as Parameters<typeof methodFromConfig>[0][]).map(methodFromConfig));
  return {
    model: pathFrom("model") ?? defaultModelPath({ chat: c.chat }),
    prompts: pathFrom("prompts")!,
    ...(c.promptLabel ? { promptLabel: c.promptLabel } : {}),
    ...(c.limit !== undefined ? { limit: c.limit } : {}),
    chat: c.chat,
    ...(c.system !== undefined ? { system: c.system } : {}),
    // Naming no cost model picks the one made for the prompts' kind, with its budget.
    cost: c.cost ?? defaultCost(c.chat).spec,
    costBaseDir: "cost" in flagValues ? cwd : fileDir,
    reward: c.reward ?? defaultReward(c.chat).spec,
    rewardIsDefault: c.reward === undefined,
    rewardBaseDir: "reward" in flagValues ? cwd : fileDir,
    ...(pathFrom("critic") ? { critic: pathFrom("critic") } : {}),
    budget: c.budget ?? (c.cost === undefined ? defaultCost(c.chat).budget : DEFAULT_BUDGET),
    maxTokens: c.maxTokens,
    seeds: c.seeds,
    scanWidth: c.scanWidth,
    methods,
    ...(c.threads !== undefined ? { threads: c.threads } : {}),
    ...(c.contextSize !== undefined ? { contextSize: c.contextSize } : {}),
    gpu: c.gpu,
  };
}
