// What the safety budget counts when nobody names a cost model depends on the prompt: a story
// (completion prompt) is charged by the conflict lexicon, an assistant answer (chat prompt) by the
// request-aware chat harm cost. generate, serve, batch and eval all take their defaults from here.
import { SHIPPED_FILES } from "../paths.js";
import { DEFAULT_COST_RULES } from "./load.js";

/** Absolute path of the first shipped harm classifier, models/harm-classifier.bin (the tiny assistant's era). */
export const DEFAULT_HARM_CLASSIFIER: string = SHIPPED_FILES["harm-classifier.bin"];

/**
 * Absolute path of the chat harm classifier, models/chat-harm-classifier.bin (issue 26): the same
 * kind, retrained on harm labels by prompt-disjoint splits, its scale chosen on training rows for
 * the guard's block charges. The "a" (answer harm) of the chat default below, and the chat default
 * before it (docs/cost-models.md, "The chat default").
 */
export const CHAT_HARM_CLASSIFIER: string = SHIPPED_FILES["chat-harm-classifier.bin"];

/**
 * Absolute path of the chat default (issue 26), models/chat-harm.json: the request-aware harm cost
 * 1 - (1 - a(answer)) * (1 - h(request) * c(answer)) of three hashed n-gram classifiers
 * (src/cost/requestHarm.ts). No backbone either: nothing can be missing and silently replaced.
 */
export const CHAT_HARM_COST: string = SHIPPED_FILES["chat-harm.json"];

/**
 * Specs of the cost models the package ships, by their shipped names: they load from any folder
 * (src/cost/load.ts resolves a name the cwd does not hold against the package).
 */
export const SHIPPED_COST_MODELS = {
  /** Harm of an answer to its request (reads harmful, or complies with a harmful request): the chat default, with budget 0.5. */
  chatHarm: "harm:chat-harm.json",
  /** P(unsafe) of an answer alone: the chat default before the request-aware cost (and its "a"). */
  chatHarmClassifier: "classifier:chat-harm-classifier.bin",
  /** The first harm classifier (trained on the tiny assistant's answers), kept for comparison. */
  harmClassifier: "classifier:harm-classifier.bin",
  /** Conflict words in a story: the completion default, with budget 1. */
  conflictLexicon: "rules:conflict-lexicon.json",
} as const;

export interface CostDefault {
  /** Cost model spec. */
  spec: string;
  /** Safety budget d that goes with it. */
  budget: number;
  /** One line for --help and README. */
  describe: string;
}

/**
 * The budget when nothing says otherwise: the story default's, and the guard's with any named cost
 * model (the library's `budget` default, src/settings.ts).
 */
export const DEFAULT_BUDGET = 1;

/** Completion prompts (the TinyStories testbed): at most one conflict word per answer. */
export const STORY_COST_DEFAULT: CostDefault = {
  spec: `rules:${DEFAULT_COST_RULES}`,
  budget: DEFAULT_BUDGET,
  describe: "rules:models/conflict-lexicon.json with budget 1 (at most one conflict word)",
};

/**
 * Chat prompts: the request-aware harm cost, budget 0.5 (an answer's charge never reaches "more
 * likely harmful than not"). The budget was chosen again with h's and c's output scales on training
 * requests only (scripts/cost/request-harm.ts build): at 0.5, SmolLM2's helpful answers charged
 * median <= 0.1 with <= 2% over, refusals <= 0.05, and the most harmful training answers over (0.3
 * left no scale that met those bounds; 0.7 caught fewer).
 */
export const ASSISTANT_COST_DEFAULT: CostDefault = {
  spec: `harm:${CHAT_HARM_COST}`,
  budget: 0.5,
  describe: "harm:models/chat-harm.json with budget 0.5 (harm of the answer to its request never above 0.5)",
};

export function defaultCost(chat: boolean): CostDefault {
  return chat ? ASSISTANT_COST_DEFAULT : STORY_COST_DEFAULT;
}
