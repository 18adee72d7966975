// The library API: one object that owns a model, a cost model and (optionally) a critic, and
// answers prompts with InferenceGuard or a baseline method over the same engine.
import { checkPrompt, type ChatMessage } from "./chatMessages.js";
import { CostModelSet, costModelSpecs } from "./cost/costModelSet.js";
import { bindRequest, type CostModel } from "./cost/costModel.js";
import { loadCostModel } from "./cost/load.js";
import { Critic, criticWarningsFor } from "./critic/index.js";
import { Engine, type GpuOption, type ModelFacts } from "./engine/engine.js";
import type { Decoder } from "./engine/decoder.js";
import { batchInvariantKvCacheType } from "./engine/kvCacheType.js";
import { EngineSlots, MAX_PARALLEL, slotSequences } from "./engine/slots.js";
import { GuardModelNotFoundError, ModelFileNotFoundError, UserError } from "./errors.js";
import { resolveModel } from "./models/resolve.js";
import { defaultModelPath } from "./paths.js";
import { generateGuarded, requiredContextCells } from "./search/guard.js";
import { guardOptionsSchema, parseOptions, type GuardOptions, type ResolvedGuardOptions } from "./search/options.js";
import { generatePlain } from "./search/plain.js";
import { assistantRewardUnavailable, loadAssistantReward, loadRewardModel } from "./reward/load.js";
import { LOGPROB_REWARD, type RewardModel } from "./reward/rewardModel.js";
import type { CriticScorer, GenerationResult } from "./search/types.js";
import { NamedModels } from "./util/namedModels.js";

export type Method = "guard" | "sample" | "greedy";

export type { ChatMessage } from "./chatMessages.js";

export interface CreateGuardOptions {
  /**
   * GGUF path, or a known model's name once fetched (`smollm2-135m-instruct`: `inference-guard models
   * fetch NAME`). Default: $INFERENCE_GUARD_MODEL (either), else the packaged stories260K.
   */
  model?: string;
  /**
   * Cost model: a spec such as "rules:PATH" or an object implementing CostModel. Default: by the
   * prompt's kind, as the CLI and server do (src/cost/defaults.ts): completion prompts get the
   * conflict lexicon (budget 1), chat prompts (messages, or chat: true) the request-aware harm cost harm:chat-harm.json (budget 0.5).
   */
  cost?: string | CostModel;
  /**
   * What candidates are ranked by (helpfulness): a spec ("logprob", "head:PATH") or a RewardModel.
   * Default: by the prompt's kind, as the CLI and server do (src/reward/load.ts): completion prompts
   * rank by logprob, chat prompts by the shipped assistant reward (logprob, with a warning, where
   * its backbone is not installed).
   */
  reward?: string | RewardModel;
  /**
   * More reward models a call may pick by name (`generate(p, {rewardName})`; the server's
   * `guard: {reward: NAME}`, a batch row's): name -> spec or RewardModel. Built in: "default" (the
   * reward above, or the prompt kind's default) and "logprob".
   */
  rewardModels?: Record<string, string | RewardModel>;
  /** Critic file path, or a loaded scorer. Without one the search ranks by the reward signal alone. */
  critic?: string | CriticScorer;
  gpu?: GpuOption;
  threads?: number;
  /**
   * KV cells shared by the beams of one generation. Default: enough for the default search to
   * write up to the model's whole trained context when that takes at most 512 MiB of KV cache (over
   * all parallel generations; small models), else 4,096 (with parallel > 1: what the default search
   * needs on a 1,024-token prompt). An answer the context cannot hold ends early with stopReason
   * "context".
   */
  contextSize?: number;
  /**
   * Generations that run at once, their decodes in one batch (default 1): concurrent generate()
   * calls share each forward pass instead of waiting in line. Each has its own contextSize cells.
   */
  parallel?: number;
  /** Default search settings for every call (each call may override them). */
  defaults?: GuardOptions;
}

export interface GenerateOptions extends GuardOptions {
  method?: Method;
  /** Render the prompt with the model's chat template (instruction models). */
  chat?: boolean;
  signal?: AbortSignal;
  /** Streaming callback: receives committed text only (never a branch the search may still drop). */
  onText?: (delta: string) => void;
  /** A cost model for this call only (default: the guard's). */
  cost?: CostModel;
  /** A reward model for this call only (default: the guard's, or the prompt kind's default). */
  reward?: RewardModel;
  /** A reward model by name (CreateGuardOptions.rewardModels, "default" or "logprob"). */
  rewardName?: string;
}

export interface Guard {
  readonly engine: Engine;
  /** Generations that run at once (CreateGuardOptions.parallel); later calls wait for a free one. */
  readonly parallel: number;
  /** Decodes run so far and the rows they carried (rows per decode: how well generations shared the batch). */
  readonly decodeStats: { decodes: number; rows: number };
  readonly cost: CostModel;
  /** Things worth telling the user that did not stop loading (e.g. a critic trained for another model name). */
  readonly warnings: readonly string[];
  generate(prompt: string | ChatMessage[], options?: GenerateOptions): Promise<GenerationResult>;
  /** The reward model names a call may pick with `rewardName`. */
  readonly rewardNames: readonly string[];
  /** Prompt length in tokens, as generate() would see it. */
  countPromptTokens(prompt: string | ChatMessage[], chat?: boolean): number;
  dispose(): Promise<void>;
}

const PROMPT_ALLOWANCE = 1024;
/** KV cache the default context size may take to cover the model's whole trained context. */
const DEFAULT_KV_BUDGET_BYTES = 512 * 1024 * 1024;

/**
 * The default context size of one generation: the default search (K beams, N candidates of W
 * tokens) writing up to the model's trained context, within its share of the KV budget; never
 * below the old fixed default.
 */
export function defaultContextSize(defaults: ResolvedGuardOptions, model: ModelFacts, parallel = 1): number {
  // Parallel slots multiply the cache: each keeps only what the default search needs on a long prompt.
  const floor = Math.max(parallel === 1 ? 4096 : 0, requiredContextCells(PROMPT_ALLOWANCE, defaults));
  const whole = requiredContextCells(1, { ...defaults, maxTokens: Math.max(1, model.trainContextSize - 1) });
  return Math.max(floor, Math.min(whole, Math.floor(DEFAULT_KV_BUDGET_BYTES / parallel / Math.max(1, model.kvBytesPerCell))));
}

export async function createGuard(options: CreateGuardOptions = {}): Promise<Guard> {
  const defaults = parseOptions(guardOptionsSchema, options.defaults, "guard options");
  const ownsCost = typeof options.cost !== "object";
  // No cost model named: both built-in defaults, each call picks by its prompt's kind.
  const cost =
    typeof options.cost === "object"
      ? options.cost
      : options.cost === undefined
        ? await CostModelSet.load(costModelSpecs(undefined))
        : await loadCostModel(options.cost);
  // A cost model loaded here (probe and guard kinds hold a llama.cpp context) is ours to release if loading fails.
  const releaseCost = async (): Promise<void> => {
    if (ownsCost) await cost.dispose?.();
  };
  const parallel = options.parallel ?? 1;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > MAX_PARALLEL) {
    throw new UserError(`parallel must be an integer from 1 to ${MAX_PARALLEL} (got ${parallel})`);
  }
  const perGeneration = options.contextSize ?? ((model: ModelFacts) => defaultContextSize(defaults, model, parallel));
  const modelPath = resolveModel(options.model) ?? defaultModelPath();
  const engine = await Engine.load({
    modelPath,
    gpu: options.gpu,
    threads: options.threads,
    contextSize: (model) => parallel * (typeof perGeneration === "number" ? perGeneration : perGeneration(model)),
    maxSequences: parallel * slotSequences(parallel),
    // An answer must not depend on which other requests share the cache (parallel slots).
    kvCacheType: batchInvariantKvCacheType(modelPath),
  }).catch(async (error: unknown) => {
    await releaseCost();
    if (error instanceof ModelFileNotFoundError) throw new GuardModelNotFoundError(modelPath, options.model === undefined);
    throw error;
  });
  let critic: CriticScorer | undefined;
  let reward: RewardModel | undefined;
  let named: NamedModels<RewardModel> | undefined;
  const warnings: string[] = [];
  const rewardOptions = { policyModelPath: engine.info.modelPath, threads: options.threads, gpu: options.gpu };
  try {
    reward = typeof options.reward === "string" ? await loadRewardModel(options.reward, rewardOptions) : options.reward;
    named = await NamedModels.load(
      { noun: "reward", offeredBy: "guard", reserved: BUILT_IN_REWARD_NAMES, load: (spec) => loadRewardModel(spec, rewardOptions), dispose: (m) => m.dispose?.() },
      options.rewardModels ?? {},
    );
    if (typeof options.critic === "string") {
      const loaded = Critic.load(options.critic);
      warnings.push(...(await criticWarningsFor(loaded, engine.info)));
      critic = loaded;
    } else critic = options.critic;
  } catch (error) {
    if (typeof options.reward === "string") await reward?.dispose?.();
    await named?.dispose();
    await engine.dispose();
    await releaseCost();
    throw error;
  }
  // Parallel generations call the cost model in turn: one that keeps state between calls keeps theirs.
  cost.shareAmong?.(parallel);
  reward?.shareAmong?.(parallel);
  for (const m of named!.owned) m.shareAmong?.(parallel);
  // Said at startup (CLIs print warnings then), though the assistant reward loads on the first chat
  // request; only for a model with a chat template (a completion model never uses the chat default).
  const unavailable = reward === undefined ? assistantRewardUnavailable(engine.info.modelPath) : undefined;
  if (unavailable !== undefined && engine.info.chatTemplate) warnings.push(unavailable);
  const rewards = new GuardRewards(reward, typeof options.reward === "string", named!, async () => {
    if (unavailable !== undefined) {
      if (!engine.info.chatTemplate) warnings.push(unavailable); // not said at startup
      return undefined;
    }
    const loaded = await loadAssistantReward(rewardOptions);
    if (loaded.warning) warnings.push(loaded.warning);
    loaded.model?.shareAmong?.(parallel);
    return loaded.model;
  });
  return new GuardImpl(engine, new EngineSlots(engine, parallel), cost, critic, options.defaults ?? {}, warnings, rewards);
}

/** Reward names every guard offers: the prompt kind's default, and likelihood. */
export const BUILT_IN_REWARD_NAMES: readonly string[] = ["default", "logprob"];

/** The guard's reward models: the one it was given, else logprob for completions and the assistant default for chat (loaded on first use). */
class GuardRewards {
  private assistant?: Promise<RewardModel | undefined>;

  constructor(
    private readonly given: RewardModel | undefined,
    private readonly ownsGiven: boolean,
    private readonly named: NamedModels<RewardModel>,
    private readonly loadAssistant: () => Promise<RewardModel | undefined>,
  ) {}

  get names(): string[] {
    return [...BUILT_IN_REWARD_NAMES, ...this.named.names()];
  }

  /** The model a name picks; "default" (or no name) is the prompt kind's. */
  async byName(name: string | undefined, chat: boolean): Promise<RewardModel> {
    if (name === undefined || name === "default") return this.forPrompt(chat);
    if (name === "logprob") return LOGPROB_REWARD;
    return this.named.get(name, this.names);
  }

  async forPrompt(chat: boolean): Promise<RewardModel> {
    if (this.given) return this.given;
    if (!chat) return LOGPROB_REWARD;
    return (await (this.assistant ??= this.loadAssistant())) ?? LOGPROB_REWARD;
  }

  async dispose(): Promise<void> {
    if (this.ownsGiven) await this.given?.dispose?.();
    await this.named.dispose();
    await (await this.assistant)?.dispose?.();
  }
}

class GuardImpl implements Guard {
  constructor(
    readonly engine: Engine,
    private readonly slots: EngineSlots,
    readonly cost: CostModel,
    private readonly critic: CriticScorer | undefined,
    private readonly defaults: GuardOptions,
    readonly warnings: readonly string[],
    private readonly rewards: GuardRewards,
  ) {}

  countPromptTokens(prompt: string | ChatMessage[], chat = false): number {
    return this.promptTokens(prompt, chat).length;
  }

  private promptTokens(prompt: string | ChatMessage[], chat: boolean): number[] {
    // Messages are checked as the server checks a request's (src/chatMessages.ts): a UserError, never "[object Object]" in the prompt.
    const checked = checkPrompt(prompt);
    if (typeof checked !== "string") return this.engine.chatPrompt(checked);
    if (chat) return this.engine.chatPrompt([{ role: "user", content: checked }]);
    return this.engine.completionPrompt(checked);
  }

  get parallel(): number {
    return this.slots.count;
  }

  get rewardNames(): readonly string[] {
    return this.rewards.names;
  }

  get decodeStats(): { decodes: number; rows: number } {
    return this.slots.stats;
  }

  /** Each generation runs on a slot of the engine (its own sequences and cells); calls beyond `parallel` wait for one. */
  generate(prompt: string | ChatMessage[], options: GenerateOptions = {}): Promise<GenerationResult> {
    return this.slots.use((slot) => this.run(slot, prompt, options));
  }

  private async run(engine: Decoder, prompt: string | ChatMessage[], options: GenerateOptions): Promise<GenerationResult> {
    const { method = "guard", chat = false, signal, onText, cost: callCost, reward: callReward, rewardName, ...search } = options;
    const isChat = chat || typeof prompt !== "string";
    let cost = callCost ?? this.cost;
    let merged: GuardOptions = { ...this.defaults, ...search };
    // The guard's built-in defaults: a chat prompt is charged by the assistant cost model and its budget.
    if (callCost === undefined && this.cost instanceof CostModelSet) {
      const selected = this.cost.select(undefined, isChat, merged.budget);
      cost = selected.options.cost;
      merged = { ...merged, ...(selected.options.budget !== undefined ? { budget: selected.options.budget } : {}) };
    }
    const promptTokens = this.promptTokens(prompt, chat);
    // What the reward and cost models read: the checked messages (text parts joined), as the prompt was rendered.
    const checked = checkPrompt(prompt);
    const rewardRequest = typeof checked !== "string" ? { messages: checked } : chat ? { messages: [{ role: "user" as const, content: checked }] } : { prompt: checked };
    // A request-aware cost (the chat default, harm:) charges compliance with this request: bound once per generation.
    cost = bindRequest(cost, rewardRequest);
    if (method === "guard") {
      const reward = callReward ?? (await this.rewards.byName(rewardName, isChat));
      return generateGuarded({ engine, promptTokens, cost, reward, rewardRequest, critic: this.critic, options: merged, signal, onText });
    }
    if (method !== "sample" && method !== "greedy") throw new UserError(`unknown method "${String(method)}" (guard, sample, greedy)`);
    const budget = parseOptions(guardOptionsSchema, merged, "guard options").budget;
    const { temperature, topK, topP, maxTokens, seed, ignoreEos, stop } = merged;
    return generatePlain({
      engine,
      promptTokens,
      method,
      options: { temperature, topK, topP, maxTokens, seed, ignoreEos, stop },
      cost,
      budget,
      signal,
      onText,
    });
  }

  async dispose(): Promise<void> {
    await this.slots.idle();
    await this.cost.dispose?.();
    await this.rewards.dispose();
    await this.engine.dispose();
  }
}
