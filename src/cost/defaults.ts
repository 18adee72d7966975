// What the safety budget counts when nobody names a cost model depends on the prompt: a story
// (completion prompt) is charged by the conflict lexicon, an assistant answer (chat prompt) by the
// shipped harm classifier. generate, serve, batch and eval all take their defaults from here.
import { SHIPPED_FILES } from "../paths.js";
import { DEFAULT_COST_RULES } from "./load.js";

/** Absolute path of the shipped harm classifier, models/harm-classifier.bin. */
export const DEFAULT_HARM_CLASSIFIER: string = SHIPPED_FILES["harm-classifier.bin"];

/**
 * Specs of the cost models the package ships, by their shipped names: they load from any folder
 * (src/cost/load.ts resolves a name the cwd does not hold against the package).
 */
export const SHIPPED_COST_MODELS = {
  /** P(unsafe) of an answer: the chat default, with budget 0.5. */
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
 * Chat prompts: the harm classifier's P(unsafe), budget 0.5 (an answer never looks more likely
 * harmful than not). Chosen on the tiny assistant's training requests, see docs/efficacy.md.
 */
export const ASSISTANT_COST_DEFAULT: CostDefault = {
  spec: `classifier:${DEFAULT_HARM_CLASSIFIER}`,
  budget: 0.5,
  describe: "classifier:models/harm-classifier.bin with budget 0.5 (harm probability never above 0.5)",
};

export function defaultCost(chat: boolean): CostDefault {
  return chat ? ASSISTANT_COST_DEFAULT : STORY_COST_DEFAULT;
}
