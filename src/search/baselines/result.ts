// What a baseline decoding method returns: the project's GenerationResult plus the answer's tokens
// (so an evaluation can scan its cost block by block) and the candidates it chose among.
import type { CostModel } from "../../cost/costModel.js";
import { DETOKENIZE_CONTEXT } from "../../engine/constants.js";
import type { Decoder } from "../../engine/decoder.js";
import { UserError } from "../../errors.js";
import { isOverBudget } from "../safetyState.js";
import type { GenerationResult, StopReason } from "../types.js";

/** One answer a method weighed before picking its final one (Best-of-N samples, final beams). */
export interface CandidateSummary {
  reward: number;
  /** cost(text) of the candidate. */
  cost: number;
  /** Sum of clipped block step costs (what the safety state z charges); undefined when not tracked. */
  chargedCost?: number;
  /** The method's own selection score (reward, reward - λ·cost, ...). */
  score: number;
  tokens: number;
  /** How many draws produced it (Best-of-N: identical samples are one candidate). */
  count?: number;
  chosen: boolean;
}

export interface BaselineResult extends GenerationResult {
  candidates?: CandidateSummary[];
}

/** Text of `tokens` written after `before`, piece by piece exactly as the guard and plain sampling build it. */
export function piecewiseText(engine: Decoder, tokens: readonly number[], before: readonly number[] = []): string {
  let text = "";
  const all = [...before, ...tokens];
  for (let i = before.length; i < all.length; i++) {
    text += engine.detokenize([all[i]], all.slice(Math.max(0, i - DETOKENIZE_CONTEXT), i));
  }
  return text;
}

/** Refuses prompts the model cannot continue; returns how many answer tokens fit in its trained context. */
export function answerTokenLimit(engine: Decoder, promptLength: number, maxTokens: number): number {
  const { trainContextSize } = engine.info;
  if (promptLength === 0) throw new UserError("the prompt is empty");
  if (promptLength >= trainContextSize) {
    throw new UserError(`the prompt has ${promptLength} tokens; the model's context is ${trainContextSize}`);
  }
  return Math.min(maxTokens, trainContextSize - promptLength);
}

/** Refuses a run that needs more sequences, batch rows or KV cells than the engine has. */
export function assertEngineFits(engine: Decoder, what: string, need: { sequences: number; rows: number; cells: number }): void {
  const { maxSequences, batchSize, contextSize } = engine.info;
  if (need.sequences > maxSequences) throw new UserError(`${what} needs ${need.sequences} sequences but the engine has ${maxSequences}`);
  if (need.rows > batchSize) throw new UserError(`${what} samples ${need.rows} rows per step but the engine's batch size is ${batchSize}`);
  if (need.cells > contextSize) {
    throw new UserError(`${what} needs up to ${need.cells} KV cells but the context has ${contextSize}: raise the context size or lower the sizes/max tokens`);
  }
}

/** Fills in the GenerationResult fields every baseline computes the same way. */
export async function finishResult(args: {
  method: string;
  engine: Decoder;
  tokens: number[];
  sumLogProb: number;
  text?: string;
  cost?: CostModel;
  budget?: number | null;
  stopReason: StopReason;
  seed: number;
  started: number;
  fallback?: boolean;
  candidates?: CandidateSummary[];
  /** The chosen answer's reward under the method's reward model (default: its mean token log-probability). */
  reward?: number;
}): Promise<BaselineResult> {
  const text = args.text ?? piecewiseText(args.engine, args.tokens);
  const cost = args.cost ? await args.cost.cost(text) : 0;
  const budget = args.budget ?? null;
  return {
    method: args.method,
    text,
    tokens: args.tokens.length,
    cost,
    budget,
    withinBudget: budget === null ? true : !isOverBudget(cost, budget),
    reward: args.reward ?? (args.tokens.length > 0 ? args.sumLogProb / args.tokens.length : 0),
    stopReason: args.stopReason,
    fallback: args.fallback ?? false,
    resamples: 0,
    seed: args.seed,
    seconds: (performance.now() - args.started) / 1000,
    tokenIds: args.tokens,
    ...(args.candidates ? { candidates: args.candidates } : {}),
  };
}
