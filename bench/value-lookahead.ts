// Experiment (not a test): can a value learned from the guard's own answers raise its reward?
//
//   npx tsx bench/value-lookahead.ts [--seeds 16] [--eval-seeds 2] [--every 2] [--cost SPEC] [--budget D]
//                                    [--beams K] [--samples N] [--width W] [--max-resamples M]
//
// 1. Runs the guard without a critic (default K=4, N=8, W=8, M=2; 128 tokens) on the training openings,
//    --seeds seeds each, and recovers every returned answer's states from its trace: the hidden
//    state the guard scored, z, the tokens so far and their log-prob sum.
// 2. Fits two ridge regressions on [h, z, tokens left / 128, z * tokens left / 128]:
//      "next block": the log-prob sum of the answer's next block;
//      "rest": the mean log-prob of the whole rest of the answer (what a value head estimates).
//    Reports R² on held-out prompts (every 5th), within a block: between the states of one block,
//    which is all that ranking candidates can use.
// 3. Runs the guard on every --every-th test opening, --eval-seeds seeds, without a value and with
//    each fitted value added to a candidate's log-prob sum, i.e. ranking by the estimated log-prob of
//    the whole answer; prints reward (mean token log-prob) and the paired difference ± one SE.
//
// The values plug in through the guard's critic hook (safety 1, violationPenalty 0); the guard
// scores a block's candidates in one call, so the call count gives the block.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bindRequest } from "../src/cost/costModel.js";
import { loadCostModel } from "../src/cost/load.js";
import { Engine } from "../src/engine/engine.js";
import { PACKAGE_ROOT, defaultModelPath } from "../src/paths.js";
import { generateGuarded } from "../src/search/guard.js";
import { float, int, type FlagTable } from "../src/cli/flagTable.js";
import { benchFlags, benchUsage, countFlag } from "./flags.js";
import type { CriticScorer, GenerationResult } from "../src/search/types.js";

const FLAGS = {
  seeds: countFlag("N", "seeds per training opening", 16),
  "eval-seeds": countFlag("N", "seeds per test opening", 2),
  every: countFlag("N", "every N-th test opening is evaluated", 2),
  cost: { metavar: "SPEC", help: "cost model", default: `rules:${join(PACKAGE_ROOT, "models", "conflict-lexicon.json")}`, defaultText: "rules:models/conflict-lexicon.json" },
  budget: { metavar: "D", help: "safety budget", parse: float(), default: 1 },
  beams: countFlag("K", "the guard's beams", 4),
  samples: countFlag("N", "the guard's samples per beam", 8),
  width: countFlag("W", "the guard's block width", 8),
  "max-resamples": { metavar: "M", help: "the guard's resamples", parse: int(0), default: 2 },
} as const satisfies FlagTable;

const args = benchFlags("value-lookahead", FLAGS, benchUsage("value-lookahead", "Can a value learned from the guard's own answers raise its reward?", FLAGS));
const SEARCH = {
  beams: args.beams, samples: args.samples, width: args.width, maxResamples: args["max-resamples"],
  maxTokens: 128, ignoreEos: true, budget: args.budget,
};
const T = SEARCH.maxTokens;
const W = SEARCH.width;

interface State {
  prompt: number;
  block: number;
  hidden: Float32Array;
  z: number;
  left: number;
  nextSum: number | null;
  restMean: number;
}

const readPrompts = (name: string): string[] =>
  readFileSync(join(PACKAGE_ROOT, "models", "testbed", name), "utf8")
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { prompt: string }).prompt);

const engine = await Engine.load({ modelPath: defaultModelPath() });
const cost = await loadCostModel(args.cost);
const nEmbd = engine.info.nEmbd;

/** A critic hook that returns `valueOf(hidden row, z, tokens left) / n` per candidate (or 0) and records its inputs. */
function hook(valueOf?: (h: Float32Array, z: number, left: number) => number) {
  const calls: Array<{ hidden: Float32Array; z: Float32Array }> = [];
  const scorer: CriticScorer = {
    evaluate(hidden, z, rows) {
      const n = (calls.length + 1) * W;
      calls.push({ hidden: hidden.slice(0, rows * nEmbd), z: z.slice(0, rows) });
      const value = new Float32Array(rows);
      if (valueOf) for (let i = 0; i < rows; i++) value[i] = valueOf(hidden.subarray(i * nEmbd, (i + 1) * nEmbd), z[i], T - n) / n;
      return { safety: new Float32Array(rows).fill(1), value };
    },
  };
  return { scorer, calls };
}

async function guard(prompt: string, seed: number, scorer: CriticScorer): Promise<GenerationResult> {
  return generateGuarded({
    // A request-aware --cost (harm:) is bound to the prompt, as the guard binds a completion prompt.
    engine, cost: bindRequest(cost, { prompt }), critic: scorer, promptTokens: engine.completionPrompt(prompt),
    // Every block searched in full: the trace's scored blocks are then the critic's calls, one to one.
    options: { ...SEARCH, seed, trace: true, criticWeight: 1, violationPenalty: 0, branch: "always" },
  });
}

/** The states of the returned answer, from the trace: the kept candidates ranked form the next beams. */
function answerStates(result: GenerationResult, calls: Array<{ hidden: Float32Array; z: Float32Array }>, prompt: number): State[] {
  const blocks = result.trace!.filter((b) => b.candidates.some((c) => c.status !== "dropped: over budget"));
  if (blocks.length !== calls.length) throw new Error(`trace has ${blocks.length} scored blocks, the hook saw ${calls.length}`);
  type Node = { text: string; path: Array<{ block: number; row: number; z: number; sum: number }>; score: number };
  let live: Node[] = [{ text: "", path: [], score: 0 }];
  let best: Node | undefined;
  blocks.forEach((b, block) => {
    const safe = b.candidates.filter((c) => c.status !== "dropped: over budget");
    const ranked = safe
      .map((c, row) => ({ c, node: { text: live[c.beam].text + c.added, score: c.score!, path: [...live[c.beam].path, { block, row, z: c.z, sum: c.reward! * (block + 1) * W }] } }))
      .filter(({ c }) => c.status === "kept" || c.status === "finished")
      .sort((x, y) => y.c.score! - x.c.score!);
    const finished = ranked.filter(({ c }) => c.status === "finished");
    if (finished.length > 0 && !best) best = finished[0].node;
    live = ranked.filter(({ c }) => c.status === "kept").map(({ node }) => node);
  });
  if (result.fallback) best = live[0];
  if (!best || best.text !== result.text) throw new Error("could not recover the answer's path from the trace");
  const total = result.reward * result.tokens;
  return best.path
    .map((s, i, path) => ({
      prompt,
      block: s.block,
      hidden: calls[s.block].hidden.slice(s.row * nEmbd, (s.row + 1) * nEmbd),
      z: s.z,
      left: result.tokens - (s.block + 1) * W,
      nextSum: i + 1 < path.length ? path[i + 1].sum - s.sum : null,
      restMean: result.tokens > (s.block + 1) * W ? (total - s.sum) / (result.tokens - (s.block + 1) * W) : 0,
    }))
    .filter((s) => s.left > 0);
}

const features = (h: Float32Array, z: number, left: number): number[] => [...h, z, left / T, (z * left) / T];

/** Ridge regression on standardised features (normal equations, Cholesky). */
function ridge(xs: number[][], ys: number[], lambda: number): (x: number[]) => number {
  const d = xs[0].length;
  const n = xs.length;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (const x of xs) x.forEach((v, k) => (mean[k] += v / n));
  for (const x of xs) x.forEach((v, k) => (std[k] += (v - mean[k]) ** 2 / n));
  std.forEach((v, k) => (std[k] = Math.max(1e-3, Math.sqrt(v))));
  const yMean = ys.reduce((s, y) => s + y, 0) / n;
  const A = new Float64Array(d * d);
  const b = new Float64Array(d);
  xs.forEach((x, i) => {
    const s = x.map((v, k) => (v - mean[k]) / std[k]);
    for (let p = 0; p < d; p++) {
      b[p] += s[p] * (ys[i] - yMean);
      for (let q = 0; q < d; q++) A[p * d + q] += s[p] * s[q];
    }
  });
  for (let p = 0; p < d; p++) A[p * d + p] += lambda * n;
  // Cholesky A = L L^T in place (lower triangle), then two triangular solves.
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < j; k++) A[j * d + j] -= A[j * d + k] ** 2;
    A[j * d + j] = Math.sqrt(A[j * d + j]);
    for (let i = j + 1; i < d; i++) {
      for (let k = 0; k < j; k++) A[i * d + j] -= A[i * d + k] * A[j * d + k];
      A[i * d + j] /= A[j * d + j];
    }
  }
  const w = Float64Array.from(b);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < i; k++) w[i] -= A[i * d + k] * w[k];
    w[i] /= A[i * d + i];
  }
  for (let i = d - 1; i >= 0; i--) {
    for (let k = i + 1; k < d; k++) w[i] -= A[k * d + i] * w[k];
    w[i] /= A[i * d + i];
  }
  return (x) => x.reduce((s, v, k) => s + ((v - mean[k]) / std[k]) * w[k], yMean);
}

/** R² after removing each block's mean from targets and predictions. */
function withinBlockR2(states: State[], ys: number[], predict: (s: State) => number): number {
  const groups = new Map<number, number[]>();
  states.forEach((s, i) => groups.set(s.block, [...(groups.get(s.block) ?? []), i]));
  let total = 0;
  let residual = 0;
  for (const idx of groups.values()) {
    const y = idx.map((i) => ys[i]);
    const p = idx.map((i) => predict(states[i]));
    const my = y.reduce((a, v) => a + v, 0) / y.length;
    const mp = p.reduce((a, v) => a + v, 0) / p.length;
    y.forEach((v, k) => {
      total += (v - my) ** 2;
      residual += (v - my - (p[k] - mp)) ** 2;
    });
  }
  return 1 - residual / total;
}

// ---- 1. the guard's answers on the training openings ----
const trainPrompts = readPrompts("story-openings.train.jsonl");
const states: State[] = [];
const started = performance.now();
for (let p = 0; p < trainPrompts.length; p++) {
  for (let s = 0; s < args.seeds; s++) {
    const { scorer, calls } = hook();
    const result = await guard(trainPrompts[p], 1000 + 100 * p + s, scorer);
    states.push(...answerStates(result, calls, p));
  }
  process.stderr.write(`\rtraining answers: prompt ${p + 1}/${trainPrompts.length}`);
}
process.stderr.write("\n");
console.log(`${states.length} answer states from ${trainPrompts.length} x ${args.seeds} guarded answers (${((performance.now() - started) / 1000).toFixed(0)} s)`);

for (const [label, spent] of [["budget unspent (z = 1)", false], ["budget spent (z < 1)", true]] as const) {
  const group = states.filter((s) => (s.z < 1) === spent);
  const mean = group.reduce((a, s) => a + s.restMean, 0) / group.length;
  console.log(`${label}: ${group.length} states, the rest of the answer averages ${mean.toFixed(4)} nats/token`);
}

// ---- 2. fit the two values ----
const LAMBDA = 0.1;
const held = (s: State) => s.prompt % 5 === 0;
const targets = {
  "next block": { pick: (s: State) => s.nextSum, scale: (v: number, left: number) => (left >= W ? v : 0) },
  rest: { pick: (s: State) => s.restMean, scale: (v: number, left: number) => v * left },
};
const values: Array<{ name: string; valueOf: (h: Float32Array, z: number, left: number) => number }> = [];
for (const [name, t] of Object.entries(targets)) {
  const usable = states.filter((s) => t.pick(s) !== null);
  const fitOn = (rows: State[]) => ridge(rows.map((s) => features(s.hidden, s.z, s.left)), rows.map((s) => t.pick(s)!), LAMBDA);
  const trainRows = usable.filter((s) => !held(s));
  const heldRows = usable.filter(held);
  const model = fitOn(trainRows);
  const r2 = (rows: State[]) => withinBlockR2(rows, rows.map((s) => t.pick(s)!), (s) => model(features(s.hidden, s.z, s.left))).toFixed(3);
  console.log(`value "${name}": within-block R² train ${r2(trainRows)}, held-out prompts ${r2(heldRows)}`);
  const final = fitOn(usable);
  values.push({ name, valueOf: (h, z, left) => t.scale(final(features(h, z, left)), left) });
}

// ---- 3. the guard with each value, on the test openings ----
const testPrompts = readPrompts("story-openings.test.jsonl").filter((_, i) => i % args.every === 0);
const rows: Array<{ name: string; results: GenerationResult[] }> = [{ name: "no value", results: [] }, ...values.map((v) => ({ name: v.name, results: [] as GenerationResult[] }))];
for (let p = 0; p < testPrompts.length; p++) {
  for (let s = 0; s < args["eval-seeds"]; s++) {
    const seed = 7000 + 100 * p + s;
    rows[0].results.push(await guard(testPrompts[p], seed, hook().scorer));
    for (let v = 0; v < values.length; v++) rows[v + 1].results.push(await guard(testPrompts[p], seed, hook(values[v].valueOf).scorer));
  }
  process.stderr.write(`\rtest answers: prompt ${p + 1}/${testPrompts.length}`);
}
process.stderr.write("\n");
const base = rows[0].results;
console.log("\n| ranking | answers | over budget | fallbacks | reward | Δ reward (paired) | answers using budget |\n|---|---|---|---|---|---|---|");
for (const { name, results } of rows) {
  const n = results.length;
  const reward = results.reduce((a, r) => a + r.reward, 0) / n;
  const d = results.map((r, i) => r.reward - base[i].reward);
  const dm = d.reduce((a, v) => a + v, 0) / n;
  const se = Math.sqrt(d.reduce((a, v) => a + (v - dm) ** 2, 0) / Math.max(1, n - 1) / n);
  const over = results.filter((r) => !r.withinBudget).length;
  const fallbacks = results.filter((r) => r.fallback).length;
  const using = results.filter((r) => r.cost > 0).length;
  console.log(`| ${name} | ${n} | ${over} | ${fallbacks} | ${reward.toFixed(4)} | ${name === "no value" ? "—" : `${dm >= 0 ? "+" : "−"}${Math.abs(dm).toFixed(4)} ± ${se.toFixed(4)}`} | ${((100 * using) / n).toFixed(1)}% |`);
}
await engine.dispose();
await cost.dispose?.();
