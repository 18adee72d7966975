// ARGS-style reward-guided decoding (Khanov et al., "ARGS: Alignment as Reward-Guided Search"):
// at every token, take the k most likely next tokens under the base model and pick by
//     log p(token) + ω · reward(token),
// greedily (ARGS-greedy, the default) or by sampling from softmax(score / t).
// Adaptation: ARGS scores tokens with a learned reward model; here the "reward model" is the cost
// model, and a token's reward is minus the cost it adds: -max(0, cost(text + token) - cost(text)).
// A token-level look-ahead only sees a word's cost on the token that completes it.
import type { CostModel } from "../../cost/costModel.js";
import { DETOKENIZE_CONTEXT } from "../../engine/constants.js";
import type { Decoder } from "../../engine/decoder.js";
import { UserError } from "../../errors.js";
import { deriveSeed } from "../seed.js";
import type { StopReason } from "../types.js";
import { answerTokenLimit, assertEngineFits, finishResult, type BaselineResult } from "./result.js";

export interface ArgsRequest {
  engine: Decoder;
  promptTokens: readonly number[];
  cost: CostModel;
  budget: number;
  /** Candidate tokens per step (the top k by base log-probability). */
  topCandidates: number;
  /** Weight ω of the reward (minus the cost increase). */
  omega: number;
  /** 0 = pick the best score (ARGS-greedy); > 0 = sample from softmax(score / temperature). */
  temperature?: number;
  seed: number;
  maxTokens: number;
  signal?: AbortSignal;
}

export async function generateArgs(request: ArgsRequest): Promise<BaselineResult> {
  const started = performance.now();
  const { engine, promptTokens, cost, topCandidates: k, omega } = request;
  const temperature = request.temperature ?? 0;
  if (!Number.isInteger(k) || k < 1) throw new UserError(`ARGS: k must be a positive integer (got ${k})`);
  if (!(omega >= 0) || !Number.isFinite(omega)) throw new UserError(`ARGS: ω must be a finite number >= 0 (got ${omega})`);
  if (!(temperature >= 0)) throw new UserError(`ARGS: the temperature must be >= 0 (got ${temperature})`);
  const maxTokens = answerTokenLimit(engine, promptTokens.length, request.maxTokens);
  assertEngineFits(engine, "ARGS", { sequences: 1, rows: 1, cells: promptTokens.length + maxTokens });

  const nVocab = engine.info.nVocab;
  const logits = new Float32Array(nVocab);
  const top = new TopK(Math.min(k, nVocab));
  const scores = new Float64Array(top.capacity);
  const weights = new Float64Array(top.capacity);
  const one = { tokens: new Int32Array(1), positions: new Int32Array(1), seqs: new Int32Array(1) };
  engine.clear();
  let row = await engine.prefill(0, promptTokens);
  const tokens: number[] = [];
  let text = "";
  let sumLogProb = 0;
  let stopReason: StopReason = "max-tokens";
  while (tokens.length < maxTokens) {
    if (request.signal?.aborted) {
      stopReason = "aborted";
      break;
    }
    engine.logits(row, logits);
    const logZ = logSumExp(logits);
    top.select(logits);
    const context = tokens.slice(-DETOKENIZE_CONTEXT);
    const pieces = Array.from(top.indices.subarray(0, top.size), (t) => (engine.isEndOfGeneration(t) ? "" : engine.detokenize([t], context)));
    const added = omega === 0 ? pieces.map(() => 0) : await cost.stepCosts(pieces.map((piece) => ({ prefix: text, added: piece })));
    for (let i = 0; i < top.size; i++) scores[i] = logits[top.indices[i]] - logZ - omega * added[i];
    const pick = temperature === 0 ? argMax(scores, top.size) : sampleSoftmax(scores, weights, top.size, temperature, deriveSeed(request.seed, tokens.length));
    const token = top.indices[pick];
    if (engine.isEndOfGeneration(token)) {
      stopReason = "eog";
      break;
    }
    tokens.push(token);
    text += pieces[pick];
    sumLogProb += logits[token] - logZ;
    if (tokens.length >= maxTokens) break;
    one.tokens[0] = token;
    one.positions[0] = promptTokens.length + tokens.length - 1;
    await engine.step(one.tokens, one.positions, one.seqs);
    row = 0;
  }
  engine.clear();
  return finishResult({ method: "args", engine, tokens, sumLogProb, text, cost, budget: request.budget, stopReason, seed: request.seed, started });
}

/** The k largest values' indices, largest first (ties: lower index first); buffers reused across calls. */
export class TopK {
  readonly indices: Int32Array;
  private readonly values: Float32Array;
  size = 0;

  constructor(readonly capacity: number) {
    this.indices = new Int32Array(capacity);
    this.values = new Float32Array(capacity);
  }

  select(x: Float32Array): void {
    const cap = this.capacity;
    this.size = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (this.size === cap && !(v > this.values[cap - 1])) continue;
      // Insertion into the sorted window: O(n k), fine for the small k ARGS uses.
      let j = this.size < cap ? this.size++ : cap - 1;
      while (j > 0 && v > this.values[j - 1]) {
        this.values[j] = this.values[j - 1];
        this.indices[j] = this.indices[j - 1];
        j--;
      }
      this.values[j] = v;
      this.indices[j] = i;
    }
  }
}

function logSumExp(x: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i] - max);
  return max + Math.log(sum);
}

function argMax(x: Float64Array, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Draws an index from softmax(x / t) with a uniform number derived from `seed` (w: scratch of n values). */
function sampleSoftmax(x: Float64Array, w: Float64Array, n: number, t: number, seed: bigint): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[i] > max) max = x[i];
  let total = 0;
  for (let i = 0; i < n; i++) total += w[i] = Math.exp((x[i] - max) / t);
  const u = Number(seed >> 11n) / 2 ** 53;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += w[i];
    if (acc > u * total) return i;
  }
  return n - 1;
}
