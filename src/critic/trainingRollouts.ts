// The rollouts a critic is trained on: reused from a rollout file (checked against the model and
// the sampling settings, and rescored when this run's reward reads the model's own states), else
// sampled from the prompts with the cost model and the value labels' reward, and saved.
import { loadAssistantReward, loadRewardModel } from "../reward/load.js";
import { LOGPROB_REWARD, type RewardModel } from "../reward/rewardModel.js";
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { loadCostModel } from "../cost/load.js";
import { Engine } from "../engine/engine.js";
import { UserError } from "../errors.js";
import { Progress } from "../util/progress.js";
import { readPromptsFile } from "../data/promptFile.js";
import { assertRolloutsMatchModel, readRolloutFile, rolloutRowOffsets, type RolloutSet, writeRolloutFile } from "./rolloutFile.js";
import { rolloutContextCells, sampleRollouts } from "./rollouts.js";

/** Prompt tokens the rollout engine's context leaves room for. */
const PROMPT_ALLOWANCE = 512;

/** What of train-critic's options shapes its rollouts (see trainCriticOptionsSchema). */
export interface RolloutOptions {
  model: string;
  prompts?: string;
  chat: boolean;
  cost: string;
  reward?: string;
  rollouts?: string;
  rolloutsPerPrompt: number;
  width: number;
  maxTokens: number;
  budget: number;
  temperature: number;
  seed: number;
  threads?: number;
}

/** Reuses `o.rollouts` when it exists (checked against the model and settings), else samples. */
export async function obtainRollouts(
  o: RolloutOptions,
  modelSha256: string,
  progressStream: NodeJS.WritableStream | undefined,
  log: (line: string) => void,
): Promise<RolloutSet> {
  if (o.rollouts && existsSync(o.rollouts)) {
    const set = readRolloutFile(o.rollouts);
    const h = set.header;
    assertRolloutsMatchModel(set, { file: basename(o.model), sha256: modelSha256, nEmbd: h.model.nEmbd }, `rollouts ${o.rollouts}`);
    const mismatch = (
      [
        ["--width", o.width, h.width],
        ["--max-tokens", o.maxTokens, h.maxTokens],
        ["--rollouts-per-prompt", o.rolloutsPerPrompt, h.rolloutsPerPrompt],
      ] as const
    ).find(([, want, have]) => want !== have);
    if ((h.chat ?? false) !== o.chat) {
      throw new UserError(`rollouts ${o.rollouts} were sampled ${h.chat ? "with" : "without"} --chat: pass the same or sample new rollouts`);
    }
    if (mismatch) {
      throw new UserError(`rollouts ${o.rollouts} were sampled with ${mismatch[0]} ${mismatch[2]}, not ${mismatch[1]}: pass the same value or sample new rollouts`);
    }
    if (h.cost.spec !== o.cost) throw new UserError(`rollouts ${o.rollouts} were costed with "${h.cost.spec}", not "${o.cost}": pass --cost ${h.cost.spec}`);
    if (o.prompts) {
      const prompts = readPromptsFile(o.prompts);
      if (prompts.length !== h.prompts.length || prompts.some((p, i) => p !== h.prompts[i])) {
        throw new UserError(`rollouts ${o.rollouts} were sampled from other prompts than ${o.prompts}`);
      }
    }
    log(`reusing ${h.rollouts.length} rollouts from ${o.rollouts}`);
    await relabelRewards(set, o, log);
    return set;
  }
  if (!o.prompts) throw new UserError("--prompts FILE is required to sample rollouts (or pass --rollouts with an existing rollout file)");
  const prompts = readPromptsFile(o.prompts);
  const cost = await loadCostModel(o.cost);
  // One prompt at a time (R sequences): llama.cpp attends over every KV cell in use, so packing
  // several prompts' forks into one context made each decode several times slower, not faster.
  const engine = await Engine.load({
    modelPath: o.model,
    threads: o.threads,
    maxSequences: o.rolloutsPerPrompt,
    contextSize: rolloutContextCells(PROMPT_ALLOWANCE, o.rolloutsPerPrompt, o.maxTokens, 1),
  });
  const reward = await loadValueReward(o, log);
  try {
    const progress = progressStream ? new Progress(prompts.length, { unit: "prompts", label: "rollouts", stream: progressStream }) : undefined;
    const started = performance.now();
    const set = await sampleRollouts({
      engine,
      modelSha256,
      cost,
      costSpec: o.cost,
      reward,
      prompts,
      chat: o.chat,
      rolloutsPerPrompt: o.rolloutsPerPrompt,
      width: o.width,
      maxTokens: o.maxTokens,
      budget: o.budget,
      seed: o.seed,
      temperature: o.temperature,
      progress,
    });
    progress?.finish();
    log(`sampled ${set.header.rollouts.length} rollouts (${set.header.hiddenRows} states) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (o.rollouts) {
      writeRolloutFile(o.rollouts, set);
      log(`saved rollouts to ${o.rollouts}`);
    }
    return set;
  } finally {
    await reward.dispose?.();
    await engine.dispose();
    await cost.dispose?.();
  }
}

/** The reward of the value labels: --reward, else the guard's default for the prompt kind. */
async function loadValueReward(o: RolloutOptions, log: (line: string) => void): Promise<RewardModel> {
  const rewardOptions = { policyModelPath: o.model, threads: o.threads };
  if (o.reward !== undefined) return loadRewardModel(o.reward, rewardOptions);
  if (!o.chat) return LOGPROB_REWARD;
  const loaded = await loadAssistantReward(rewardOptions);
  if (loaded.warning) log(`warning: ${loaded.warning}`);
  return loaded.model ?? LOGPROB_REWARD;
}

/**
 * Reused rollouts scored under another reward than this run's: a reward on this model's own states
 * rescores each rollout from its last stored state (rescoreRollouts), so one sampling serves any such
 * head; another reward cannot, and is said.
 */
async function relabelRewards(set: RolloutSet, o: RolloutOptions, log: (line: string) => void): Promise<void> {
  const have = set.header.reward ?? LOGPROB_REWARD.name;
  const reward = await loadValueReward(o, log);
  try {
    if (reward.name === have) return;
    if (await rescoreRollouts(set, reward)) log(`rescored ${set.header.rollouts.length} rollouts with ${reward.name} from their last stored states`);
    else log(`warning: rollouts ${o.rollouts} were scored with ${have}, not ${reward.name}: their value labels stay ${have}'s (sample new rollouts to change them)`);
  } finally {
    await reward.dispose?.();
  }
}

/**
 * Each rollout's reward under `reward`, when it reads the sampled model's own states: from the
 * rollout's last stored state, the hidden state of its last token (the state the guard scores a
 * finished candidate by; the prompt's last for an empty answer). False, and nothing changed, for a
 * reward that needs the text or another model.
 */
export async function rescoreRollouts(set: RolloutSet, reward: RewardModel): Promise<boolean> {
  if (!reward.needsHidden) return false;
  const h = set.header;
  const nEmbd = h.model.nEmbd;
  const offsets = rolloutRowOffsets(h);
  for (const [i, r] of h.rollouts.entries()) {
    const last = offsets[i]! + r.states.length - 1;
    const content = h.prompts[r.prompt]!;
    const request = h.chat ? { messages: [{ role: "user" as const, content }] } : { prompt: content };
    const hidden = set.hidden.subarray(last * nEmbd, (last + 1) * nEmbd);
    [r.reward] = await reward.score({ ...request, promptTokens: [] }, [{ tokens: r.tokenIds, text: "", sumLogProb: 0, hidden }]);
  }
  h.reward = reward.name;
  return true;
}
