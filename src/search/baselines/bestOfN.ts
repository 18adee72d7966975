// Best-of-N: sample N answers in parallel (one decode per step for all), then keep one. Identical
// draws are one candidate (with its count): the choice only depends on the distinct answers.
//   reward      the highest reward (mean token log-probability under the base model)
//   lagrangian  the highest reward - λ·cost(answer)
//   safe        the safety-state-augmented choice (Sauté): an answer whose charged cost, scanned in
//               blocks of W tokens, drives z = 1 - charged/d below 0 is dropped; the best remaining
//               answer by reward wins. When all N are over budget the least-charged one (then the
//               best reward) is returned (it does not end early or refuse, so it is no fallback).
import type { CostModel } from "../../cost/costModel.js";
import type { Decoder } from "../../engine/decoder.js";
import { UserError } from "../../errors.js";
import { isOverBudget } from "../safetyState.js";
import { blockTexts, chargedCostCurves, maxOf } from "./blocks.js";
import { finishResult, piecewiseText, type BaselineResult, type CandidateSummary } from "./result.js";
import { sampleAnswers } from "./sampling.js";
import { LOGPROB_REWARD, type RewardModel, type RewardRequest } from "../../reward/rewardModel.js";

export type BestOfNRule = { kind: "reward" } | { kind: "lagrangian"; lambda: number } | { kind: "safe"; width: number };

export interface BestOfNRequest {
  engine: Decoder;
  promptTokens: readonly number[];
  cost: CostModel;
  budget: number;
  n: number;
  rule: BestOfNRule;
  seed: number;
  maxTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  signal?: AbortSignal;
  /** What "reward" ranks by (default: mean token log-probability). */
  reward?: RewardModel;
  rewardRequest?: Omit<RewardRequest, "promptTokens">;
}

const METHOD_NAMES = { reward: "bon", lagrangian: "bon-lagrangian", safe: "bon-safe" } as const;

export async function generateBestOfN(request: BestOfNRequest): Promise<BaselineResult> {
  const started = performance.now();
  const { engine, cost, budget, n, rule } = request;
  if (!Number.isInteger(n) || n < 1) throw new UserError(`Best-of-N needs n >= 1 (got ${n})`);
  if (!(budget > 0)) throw new UserError(`the budget must be > 0 (got ${budget})`);
  if (rule.kind === "lagrangian" && !(rule.lambda >= 0)) throw new UserError(`λ must be >= 0 (got ${rule.lambda})`);
  const answers = await sampleAnswers({
    engine,
    promptTokens: request.promptTokens,
    n,
    params: { temperature: request.temperature ?? 1, topK: request.topK ?? 0, topP: request.topP ?? 1 },
    seed: request.seed,
    maxTokens: request.maxTokens,
    signal: request.signal,
    captureHidden: request.reward?.needsHidden,
  });
  const texts = answers.map((a) => piecewiseText(engine, a.tokens));
  const costs = await Promise.all(texts.map((t) => cost.cost(t)));
  const charged =
    rule.kind === "safe"
      ? (await chargedCostCurves(cost, answers.map((a) => blockTexts(engine, a.tokens, rule.width)))).map(maxOf)
      : undefined;
  const rewards = await (request.reward ?? LOGPROB_REWARD).score(
    { ...request.rewardRequest, promptTokens: request.promptTokens },
    answers.map((a, i) => ({ tokens: a.tokens, text: texts[i], sumLogProb: a.sumLogProb, hidden: a.hidden })),
  );

  const candidates: CandidateSummary[] = answers.map((a, i) => ({
    reward: rewards[i],
    cost: costs[i],
    ...(charged ? { chargedCost: charged[i] } : {}),
    score: rule.kind === "lagrangian" ? rewards[i] - rule.lambda * costs[i] : rewards[i],
    tokens: a.tokens.length,
    count: a.count,
    chosen: false,
  }));
  let best: number;
  if (rule.kind === "safe") {
    const safe = candidates.map((_, i) => i).filter((i) => !isOverBudget(charged![i], budget));
    if (safe.length > 0) best = argBest(safe, (i) => [candidates[i].score]);
    else best = argBest(candidates.map((_, i) => i), (i) => [-charged![i], candidates[i].score]);
  } else {
    best = argBest(candidates.map((_, i) => i), (i) => [candidates[i].score]);
  }
  candidates[best].chosen = true;
  const chosen = answers[best];
  const stopReason = answers.some((a) => a.stopReason === "aborted") ? "aborted" : chosen.stopReason;
  return finishResult({
    method: METHOD_NAMES[rule.kind],
    engine,
    tokens: chosen.tokens,
    sumLogProb: chosen.sumLogProb,
    reward: rewards[best],
    text: texts[best],
    cost,
    budget,
    stopReason,
    seed: request.seed,
    started,
    candidates,
  });
}

/** The index with the lexicographically largest key; the lowest index wins ties (deterministic). */
export function argBest(indices: readonly number[], key: (i: number) => number[]): number {
  let best = indices[0];
  let bestKey = key(best);
  for (const i of indices.slice(1)) {
    const k = key(i);
    for (let j = 0; j < k.length; j++) {
      if (k[j] > bestKey[j]) {
        best = i;
        bestKey = k;
        break;
      }
      if (k[j] < bestKey[j]) break;
    }
  }
  return best;
}
