// Turns a reward spec ("logprob", "head:PATH") into a RewardModel, and says which reward a prompt
// gets when nobody names one: completion prompts rank by likelihood (`logprob`), chat prompts by
// the shipped chat reward (a helpfulness head on SmolLM2-135M-Instruct, models/README.md).
import { existsSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { UserError } from "../errors.js";
import { modelPathFor } from "../models/index.js";
import { PACKAGE_ROOT, shippedFile } from "../paths.js";
import { backboneCandidates } from "./backbone.js";
import { type HeadFile, readHeadFile } from "./headFormat.js";
import { HeadRewardModel, REWARD_MODEL_ENV, type HeadLoadOptions } from "./headReward.js";
import { LOGPROB_REWARD, type RewardModel } from "./rewardModel.js";

/** The spec kinds, for --help and error messages (declared once). */
export const REWARD_KINDS = [
  { kind: "logprob", usage: "logprob (mean token log-probability under the model: likelihood)" },
  { kind: "head", usage: "head:PATH (a reward head on a GGUF backbone's last hidden state, from `inference-guard train-reward`)" },
] as const;

/**
 * Absolute path of the chat default: a helpfulness head on SmolLM2-135M-Instruct's last hidden state
 * (models/README.md). It applies to any chat policy: on SmolLM2 itself (same sha256) it reads the
 * search's own states; beside another policy it runs SmolLM2 as a side model, where it is fetched.
 */
export const DEFAULT_ASSISTANT_REWARD: string = join(PACKAGE_ROOT, "models", "smollm2-135m-instruct-reward.json");

/** The tiny assistant testbed's head (models/README.md): kept for fast unit tests of the head route, not a default. */
export const TINY_ASSISTANT_REWARD: string = join(PACKAGE_ROOT, "models", "tiny-assistant-reward.json");

export interface RewardDefault {
  spec: string;
  describe: string;
}

export const STORY_REWARD_DEFAULT: RewardDefault = { spec: "logprob", describe: "logprob (likelihood)" };
export const ASSISTANT_REWARD_DEFAULT: RewardDefault = {
  spec: `head:${DEFAULT_ASSISTANT_REWARD}`,
  describe: "head:models/smollm2-135m-instruct-reward.json (helpfulness on SmolLM2-135M-Instruct's states; beside another model it runs SmolLM2 as a side model; else logprob)",
};

export function defaultReward(chat: boolean): RewardDefault {
  return chat ? ASSISTANT_REWARD_DEFAULT : STORY_REWARD_DEFAULT;
}

export interface LoadRewardOptions extends HeadLoadOptions {
  /** Folder relative paths are resolved against (default: the current folder). */
  baseDir?: string;
}

export async function loadRewardModel(spec: string, options: LoadRewardOptions = {}): Promise<RewardModel> {
  const trimmed = spec.trim();
  if (trimmed === "logprob") return LOGPROB_REWARD;
  const m = /^([A-Za-z][A-Za-z0-9_-]+):(.*)$/s.exec(trimmed);
  if (m !== null && m[1]!.toLowerCase() === "head") {
    const arg = m[2]!.trim();
    if (arg === "") throw new UserError(`reward spec "${spec}" is missing its argument: use ${REWARD_KINDS[1].usage}`);
    // A file of that name in the caller's folder wins; else a shipped one (head:tiny-assistant-reward.json works anywhere).
    const local = isAbsolute(arg) ? arg : resolve(options.baseDir ?? process.cwd(), arg);
    return HeadRewardModel.load(existsSync(local) ? local : (shippedFile(arg) ?? local), options);
  }
  throw new UserError(`unknown reward "${spec}": supported are ${REWARD_KINDS.map((k) => k.usage).join("; ")}`);
}

/**
 * Why the chat default cannot run next to this policy, checked without loading anything, or
 * undefined when it can: said once at startup, not at the first chat request. It needs its
 * backbone's exact weights (the head reads that model's hidden states): the policy itself when the
 * policy is that GGUF (same size here, same sha256 when it loads), else the backbone file beside
 * the head, in the model cache, or at $INFERENCE_GUARD_REWARD_MODEL (checked by sha256 when it loads).
 */
export function assistantRewardUnavailable(policyModelPath: string): string | undefined {
  if (!existsSync(DEFAULT_ASSISTANT_REWARD)) return `the chat reward ${DEFAULT_ASSISTANT_REWARD} is not installed: chat prompts rank by logprob`;
  let head: HeadFile;
  try {
    head = readHeadFile(DEFAULT_ASSISTANT_REWARD);
    if (existsSync(policyModelPath) && statSync(policyModelPath).size === head.backbone.size) return undefined; // the policy may be it (checked by sha256 when loaded)
  } catch (error) {
    if (error instanceof UserError) return `${error.message}; chat prompts rank by logprob`;
    throw error;
  }
  // $INFERENCE_GUARD_REWARD_MODEL wins over the recorded places, as when the head loads.
  const places = process.env[REWARD_MODEL_ENV] ? [resolve(modelPathFor(process.env[REWARD_MODEL_ENV]!))] : backboneCandidates(dirname(DEFAULT_ASSISTANT_REWARD), head.backbone.path, head.backbone.file);
  if (places.some((p) => existsSync(p))) return undefined;
  return (
    `the chat reward (a helpfulness head on ${head.backbone.file}) cannot run: this model is not its backbone, and the backbone is not at ${places.join(" or ")} ` +
    `(run \`inference-guard models fetch smollm2-135m-instruct\`, or set $${REWARD_MODEL_ENV}): chat prompts rank by logprob (name a reward with --reward)`
  );
}

/**
 * The chat default, or undefined with a reason when it cannot run here (its backbone is not
 * installed and the policy is another model): the caller ranks by logprob and says so.
 */
export async function loadAssistantReward(options: LoadRewardOptions): Promise<{ model?: RewardModel; warning?: string }> {
  if (!existsSync(DEFAULT_ASSISTANT_REWARD)) return { warning: `the chat reward ${DEFAULT_ASSISTANT_REWARD} is not installed: chat prompts rank by logprob` };
  try {
    return { model: await HeadRewardModel.load(DEFAULT_ASSISTANT_REWARD, options) };
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return { warning: `${error.message}; chat prompts rank by logprob (name a reward with --reward)` };
  }
}
