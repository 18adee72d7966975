// Public library API of inference-guard.
export { createGuard } from "./createGuard.js";
export type { CreateGuardOptions, GenerateOptions, Guard, ChatMessage, Method } from "./createGuard.js";
export type { GuardOptions, SamplingOptions } from "./search/options.js";
export type { GenerationResult, TraceBlock, TraceCandidate, StopReason, CriticScorer } from "./search/types.js";
export type { CostModel } from "./cost/costModel.js";
export { RulesCostModel } from "./cost/rules.js";
export { loadCostModel, DEFAULT_COST_RULES } from "./cost/load.js";
export { Critic } from "./critic/index.js";
export { Engine } from "./engine/engine.js";
export type { EngineOptions, EngineInfo, GpuOption } from "./engine/engine.js";
export { generateGuarded } from "./search/guard.js";
export { generatePlain } from "./search/plain.js";
export { UserError, ModelFileNotFoundError, GuardModelNotFoundError } from "./errors.js";
export { runEval } from "./eval/runner.js";
export { trainCritic } from "./critic/trainCritic.js";
