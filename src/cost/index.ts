export type { CostModel, StepItem } from "./costModel.js";
export { stepCostsByDifference, clipStep, bindRequest, requestText, type CostRequest } from "./costModel.js";
export { RulesCostModel, RulesFileSchema } from "./rules.js";
export type { RulesFile, TermMatch } from "./rules.js";
export { loadCostModel, registerCostModelKind, costModelKinds, DEFAULT_COST_RULES } from "./load.js";
export type { CostModelKind, LoadCostModelOptions } from "./load.js";
export { CHAT_HARM_CLASSIFIER, CHAT_HARM_COST, DEFAULT_HARM_CLASSIFIER, STORY_COST_DEFAULT, ASSISTANT_COST_DEFAULT, defaultCost } from "./defaults.js";
export type { CostDefault } from "./defaults.js";
