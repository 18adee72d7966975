// What the safety budget counts when nobody names a cost model depends on the prompt: a story
// (completion prompt) is charged by the conflict lexicon, an assistant answer (chat prompt) by the
// chat harm classifier. generate, serve, batch and eval all take their defaults from here.
import { SHIPPED_FILES } from "../paths.js";
import { DEFAULT_COST_RULES } from "./load.js";

/** Absolute path of the first shipped harm classifier, models/harm-classifier.bin (the tiny assistant's era). */
export const DEFAULT_HARM_CLASSIFIER: string = SHIPPED_FILES["harm-classifier.bin"];

/**
 * Absolute path of the chat harm classifier, models/chat-harm-classifier.bin (issue 26): the same
 * kind, retrained on harm labels by prompt-disjoint splits, its scale chosen on training rows for
 * the guard's block charges. A text classifier needs no backbone, so the default cannot be
 * missing a model and silently fall back (docs/cost-models.md, "The chat default").
 */
export const CHAT_HARM_CLASSIFIER: string = SHIPPED_FILES["chat-harm-classifier.bin"];

/**
 * Specs of the cost models the package ships, by their shipped names: they load from any folder
 * (src/cost/load.ts resolves a name the cwd does not hold against the package).
 */
export const SHIPPED_COST_MODELS = {
  /** P(unsafe) of an answer: the chat default, with budget 0.5. */
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
 * Chat prompts: the chat harm classifier's P(unsafe), budget 0.5 (an answer's charge never reaches
 * "more likely harmful than not"). The budget was kept and the classifier's output scale chosen
 * for it on training requests only: SmolLM2's helpful answers to them charged median <= 0.1 with
 * <= 2% over, refusals <= 0.05, and the most harmful answers over (scripts/cost/calibrate.ts).
 */
export const ASSISTANT_COST_DEFAULT: CostDefault = {
  spec: `classifier:${CHAT_HARM_CLASSIFIER}`,
  budget: 0.5,
  describe: "classifier:models/chat-harm-classifier.bin with budget 0.5 (harm probability never above 0.5)",
};

export function defaultCost(chat: boolean): CostDefault {
  return chat ? ASSISTANT_COST_DEFAULT : STORY_COST_DEFAULT;
}
