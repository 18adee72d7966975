export type { CostModel, StepItem } from "./costModel.js";
export { stepCostsByDifference, clipStep } from "./costModel.js";
export { RulesCostModel, RulesFileSchema } from "./rules.js";
export type { RulesFile, TermMatch } from "./rules.js";
export { loadCostModel, registerCostModelKind, costModelKinds, DEFAULT_COST_RULES } from "./load.js";
export type { CostModelKind, LoadCostModelOptions } from "./load.js";
