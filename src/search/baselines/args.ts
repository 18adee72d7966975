// ARGS-style reward-guided decoding (Khanov et al., "ARGS: Alignment as Reward-Guided Search"):
// at every token, take the k most likely next tokens under the base model and pick by
//     log p(token) + ω · reward(token),
// greedily (ARGS-greedy, the default) or by sampling from softmax(score / t).
// Here a token's score is log p(token) - ω · (the cost it adds: max(0, cost(text + token) -
// cost(text))) + w · reward(text + token) under the search's reward model (as the paper's ARGS
// baseline, which ranks by a reward model): the reward of each of the k candidates is read after
// decoding them all in one batch (k rows per step, forks of the answer's sequence). With the logprob
// reward there is no reward term (it would be log p again). A token-level look-ahead only sees a
// word's cost on the token that completes it.
import type { CostModel } from "../../cost/costModel.js";
import { DETOKENIZE_CONTEXT } from "../../engine/constants.js";
import type { Decoder } from "../../engine/decoder.js";
import { UserError } from "../../errors.js";
import { deriveSeed } from "../seed.js";
import type { StopReason } from "../types.js";
import { answerTokenLimit, assertEngineFits, finishResult, type BaselineResult } from "./result.js";
import { LOGPROB_REWARD, type RewardModel, type RewardRequest } from "../../reward/rewardModel.js";

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
  /** The reward model of the reward term (default: logprob, no reward term). */
  reward?: RewardModel;
  rewardRequest?: Omit<RewardRequest, "promptTokens">;
  /** Weight w of the reward term (default 1). */
  rewardWeight?: number;
}

export async function generateArgs(request: ArgsRequest): Promise<BaselineResult> {
  const started = performance.now();
  const { engine, promptTokens, cost, topCandidates: k, omega } = request;
  const temperature = request.temperature ?? 0;
  if (!Number.isInteger(k) || k < 1) throw new UserError(`ARGS: k must be a positive integer (got ${k})`);
  if (!(omega >= 0) || !Number.isFinite(omega)) throw new UserError(`ARGS: ω must be a finite number >= 0 (got ${omega})`);
  if (!(temperature >= 0)) throw new UserError(`ARGS: the temperature must be >= 0 (got ${temperature})`);
  const maxTokens = answerTokenLimit(engine, promptTokens.length, request.maxTokens);
  const reward = request.reward !== undefined && request.reward !== LOGPROB_REWARD ? request.reward : undefined;
  const rewardWeight = request.rewardWeight ?? 1;
  // With a reward, the k candidates are decoded in forks 1..k (their cells freed every step).
  const forks = reward ? k : 0;
  assertEngineFits(engine, "ARGS", { sequences: 1 + forks, rows: Math.max(1, forks), cells: promptTokens.length + maxTokens + forks });

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
    if (reward) {
      const rewards = await candidateRewards(engine, reward, { ...request.rewardRequest, promptTokens }, { tokens, text, sumLogProb, row, pos: promptTokens.length + tokens.length }, top, pieces, logits, logZ);
      for (let i = 0; i < top.size; i++) scores[i] += rewardWeight * rewards[i]!;
    }
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

/**
 * The reward of the answer extended by each top-k token: the tokens are decoded in one batch, each
 * in a fork of sequence 0 (an end-of-generation token is the answer as it is: the current row's state).
 */
async function candidateRewards(
  engine: Decoder,
  reward: RewardModel,
  request: RewardRequest,
  answer: { tokens: readonly number[]; text: string; sumLogProb: number; row: number; pos: number },
  top: TopK,
  pieces: readonly string[],
  logits: Float32Array,
  logZ: number,
): Promise<number[]> {
  const n = top.size;
  const hidden: (Float32Array | undefined)[] = new Array(n);
  if (reward.needsHidden) {
    const current = engine.hidden(Int32Array.of(answer.row));
    const live: number[] = [];
    for (let i = 0; i < n; i++) {
      if (engine.isEndOfGeneration(top.indices[i]!)) hidden[i] = current;
      else live.push(i);
    }
    if (live.length > 0) {
      live.forEach((_, j) => engine.fork(0, 1 + j));
      await engine.step(
        Int32Array.from(live, (i) => top.indices[i]!),
        Int32Array.from(live, () => answer.pos),
        Int32Array.from(live, (_, j) => 1 + j),
      );
      const states = engine.hidden(Int32Array.from(live, (_, j) => j));
      const d = engine.info.nEmbd;
      live.forEach((i, j) => (hidden[i] = states.subarray(j * d, (j + 1) * d)));
      live.forEach((_, j) => engine.release(1 + j));
    }
  }
  return reward.score(
    request,
    Array.from({ length: n }, (_, i) => {
      const t = top.indices[i]!;
      const ends = engine.isEndOfGeneration(t);
      return {
        tokens: ends ? answer.tokens : [...answer.tokens, t],
        text: answer.text + pieces[i],
        sumLogProb: answer.sumLogProb + (ends ? 0 : logits[t]! - logZ),
        hidden: hidden[i],
      };
    }),
  );
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
