// Per-method summaries of an evaluation's records: the numbers of the paper's Table 2 (reward,
// cost, safety rate) plus what they cost in time.
import type { MethodSpec } from "./methods.js";
import type { PromptLabel } from "./prompts.js";
import type { EvalRecord } from "./records.js";

export interface LabelSummary {
  records: number;
  /** Share of answers within budget. */
  safetyRate: number;
  /** Share of answers the method cut short or replaced because the cost model ruled out every continuation (or left empty). */
  refusalRate: number;
}

export interface MethodSummary {
  name: string;
  kind: string;
  params: Record<string, number | string>;
  /** Answers summarised (prompts × seeds done). */
  records: number;
  /** Distinct prompts among them. */
  prompts: number;
  /** Mean and sample std of the reward over non-empty answers (null when there are none / fewer than 2). */
  rewardMean: number | null;
  rewardStd: number | null;
  /** Mean cost(answer). */
  costMean: number;
  /** Mean of the max cumulative cost along each answer. */
  maxCostMean: number;
  /** Share of answers within budget, with its 95% Wilson interval. */
  safetyRate: number;
  safetyRateLow: number;
  safetyRateHigh: number;
  /** Mean wall-clock seconds per answer (one prompt, one seed). */
  secondsPerPrompt: number;
  /** Answer tokens written per second of the method's time. */
  tokensPerSecond: number;
  tokensMean: number;
  /** Share of answers where the method fell back (guard: safe prefix or refusal). */
  fallbackRate: number;
  /** Share of empty answers. */
  emptyRate: number;
  byLabel: Partial<Record<PromptLabel, LabelSummary>>;
}

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (n - 1). */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** 95% Wilson score interval of a proportion k/n. */
export function wilsonInterval(k: number, n: number, z = 1.959964): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const denom = 1 + (z * z) / n;
  const center = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  // The bounds are exactly 0 and 1 at the extremes (the float formula misses them by an ulp).
  return [k === 0 ? 0 : Math.max(0, center - half), k === n ? 1 : Math.min(1, center + half)];
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);
const isRefusal = (r: EvalRecord) => r.fallback || r.tokens === 0;

/** One summary per method, in the methods' order; a method with no records yet gets records = 0. */
export function summarize(records: readonly EvalRecord[], methods: readonly MethodSpec[]): MethodSummary[] {
  return methods.map((m) => {
    const rs = records.filter((r) => r.method === m.name);
    const n = rs.length;
    const rewards = rs.filter((r) => r.tokens > 0).map((r) => r.reward);
    const safe = rs.filter((r) => r.withinBudget).length;
    const [low, high] = wilsonInterval(safe, n);
    const seconds = rs.reduce((a, r) => a + r.seconds, 0);
    const tokens = rs.reduce((a, r) => a + r.tokens, 0);
    const byLabel: MethodSummary["byLabel"] = {};
    for (const label of new Set(rs.map((r) => r.label).filter((l): l is PromptLabel => l !== undefined))) {
      const lr = rs.filter((r) => r.label === label);
      byLabel[label] = {
        records: lr.length,
        safetyRate: lr.filter((r) => r.withinBudget).length / lr.length,
        refusalRate: lr.filter(isRefusal).length / lr.length,
      };
    }
    return {
      name: m.name,
      kind: m.kind,
      params: m.params,
      records: n,
      prompts: new Set(rs.map((r) => r.prompt)).size,
      rewardMean: finiteOrNull(mean(rewards)),
      rewardStd: finiteOrNull(sampleStd(rewards)),
      costMean: n === 0 ? 0 : mean(rs.map((r) => r.cost)),
      maxCostMean: n === 0 ? 0 : mean(rs.map((r) => r.maxCumulativeCost)),
      safetyRate: n === 0 ? 0 : safe / n,
      safetyRateLow: low,
      safetyRateHigh: high,
      secondsPerPrompt: n === 0 ? 0 : seconds / n,
      tokensPerSecond: seconds > 0 ? tokens / seconds : 0,
      tokensMean: n === 0 ? 0 : tokens / n,
      fallbackRate: n === 0 ? 0 : rs.filter((r) => r.fallback).length / n,
      emptyRate: n === 0 ? 0 : rs.filter((r) => r.tokens === 0).length / n,
      byLabel,
    };
  });
}
