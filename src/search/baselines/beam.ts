// Block beam search, the guard's search without its safety machinery: K beams; each block every
// beam draws its share of N candidates of W tokens (sampled as a prefix tree, identical candidates
// once, as the guard does), and the top K by reward (mean token log-probability) survive.
// With `safety`, each candidate carries the safety state z = 1 - charged/d (charged = sum of its
// clipped block step costs) and the ranking is safety-state augmented (Sauté): candidates over
// budget rank below every candidate within it. Unlike InferenceGuard it never resamples and never
// falls back: when every candidate is over budget, the best of them go on.
// Draws are seeded by (seed, block, 0, token step) as in the guard's first attempt, so without
// safety it returns exactly what generateGuarded (branch "always") returns under a cost model that
// charges nothing.
import type { CostModel } from "../../cost/costModel.js";
import { DETOKENIZE_CONTEXT } from "../../engine/constants.js";
import type { Decoder } from "../../engine/decoder.js";
import { UserError } from "../../errors.js";
import { yieldToEventLoop } from "../../util/yield.js";
import { isOverBudget } from "../safetyState.js";
import { deriveSeed } from "../seed.js";
import { SequencePool } from "../../engine/sequencePool.js";
import type { StopReason } from "../types.js";
import { answerTokenLimit, assertEngineFits, finishResult, type BaselineResult, type CandidateSummary } from "./result.js";
import { answerStop, growTree } from "../tree.js";
import { LOGPROB_REWARD, type RewardModel, type RewardRequest } from "../../reward/rewardModel.js";

export interface BeamRequest {
  engine: Decoder;
  promptTokens: readonly number[];
  /** Measured on the answer always; steers the search only with `safety`. */
  cost: CostModel;
  budget: number;
  beams: number;
  samples: number;
  width: number;
  safety: boolean;
  seed: number;
  maxTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  signal?: AbortSignal;
  /** What beams are ranked by (default: mean token log-probability). */
  reward?: RewardModel;
  rewardRequest?: Omit<RewardRequest, "promptTokens">;
}

interface Beam {
  /** Its KV sequence; -1 when it ended at an end-of-generation token as a branch. */
  seq: number;
  tokens: number[];
  text: string;
  pos: number;
  /** Batch row of its last decode (valid until the next decode). */
  row: number;
  sumLogProb: number;
  charged: number;
  score: number;
  finished: StopReason | null;
}

export async function generateBeam(request: BeamRequest): Promise<BaselineResult> {
  const started = performance.now();
  const { engine, promptTokens, beams: K, samples: N, width: W, budget } = request;
  for (const [name, value] of Object.entries({ beams: K, samples: N, width: W })) {
    if (!Number.isInteger(value) || value < 1) throw new UserError(`beam search: ${name} must be a positive integer (got ${value})`);
  }
  if (N < K) throw new UserError(`beam search: samples (N = ${N}) must be >= beams (K = ${K})`);
  if (!(budget > 0)) throw new UserError(`the budget must be > 0 (got ${budget})`);
  const maxTokens = answerTokenLimit(engine, promptTokens.length, request.maxTokens);
  assertEngineFits(engine, "this beam search", { sequences: K + N, rows: N, cells: promptTokens.length + K * maxTokens + N * W + K + 1 });
  const params = { temperature: request.temperature ?? 1, topK: request.topK ?? 0, topP: request.topP ?? 1 };
  const over = (b: Beam) => request.safety && isOverBudget(b.charged, budget);
  // Sauté ranking: within budget first, then by reward.
  const rank = (a: Beam, b: Beam) => Number(over(a)) - Number(over(b)) || b.score - a.score;
  const release = (b: Beam) => b.seq >= 0 && pool.release(b.seq);
  const reward = request.reward ?? LOGPROB_REWARD;

  engine.clear();
  const pool = new SequencePool(engine, engine.info.maxSequences);
  const rootSeq = pool.acquire();
  let live: Beam[] = [
    { seq: rootSeq, tokens: [], text: "", pos: promptTokens.length, row: await engine.prefill(rootSeq, promptTokens), sumLogProb: 0, charged: 0, score: 0, finished: null },
  ];
  const finished: Beam[] = [];
  let aborted = false;

  for (let block = 0; live.length > 0; block++) {
    await yieldToEventLoop();
    if (request.signal?.aborted) {
      aborted = true;
      break;
    }
    const base = Math.floor(N / live.length);
    const roots = live.map((b, i) => ({ seq: b.seq, row: b.row, pos: b.pos, written: b.tokens.length, draws: base + (i < N % live.length ? 1 : 0) }));
    const leaves = await growTree(engine, pool, roots, { width: W, maxTokens, params, seedAt: (w) => deriveSeed(request.seed, block, 0, w), captureHidden: reward.needsHidden });
    const candidates: Beam[] = leaves.map((l) => {
      const parent = live[l.root];
      const tokens = parent.tokens.concat(l.tokens);
      // Detokenized with the beam's last tokens as context, as the guard writes its blocks.
      const added = l.tokens.length === 0 ? "" : engine.detokenize(l.tokens, parent.tokens.slice(-DETOKENIZE_CONTEXT));
      const sumLogProb = parent.sumLogProb + l.sumLogProb;
      return {
        seq: l.seq, tokens, text: parent.text + added, pos: l.pos, row: l.row, sumLogProb, charged: parent.charged,
        score: tokens.length === 0 ? 0 : sumLogProb / tokens.length, finished: answerStop(l.stop),
      };
    });
    const rewards = await reward.score(
      { ...request.rewardRequest, promptTokens },
      candidates.map((c, i) => ({ tokens: c.tokens, text: c.text, sumLogProb: c.sumLogProb, hidden: leaves[i].hidden })),
    );
    candidates.forEach((c, i) => (c.score = rewards[i]));
    if (request.safety) {
      const steps = await request.cost.stepCosts(leaves.map((l, i) => ({ prefix: live[l.root].text, added: candidates[i].text.slice(live[l.root].text.length) })));
      candidates.forEach((c, i) => {
        if (!(steps[i] >= 0)) throw new Error(`cost model ${request.cost.name} returned an invalid step cost: ${steps[i]}`);
        c.charged += steps[i];
      });
    }
    const kept = new Set([...candidates].sort(rank).slice(0, K));
    const nextLive: Beam[] = [];
    for (const c of [...kept].sort(rank)) (c.finished ? finished : nextLive).push(c);
    for (const c of candidates) if (!kept.has(c) || c.finished) release(c);
    for (const b of live) release(b);
    live = nextLive;
  }

  // Aborted: the live beams are the best partial answers.
  const sorted = (aborted ? [...finished, ...live] : finished).sort(rank);
  const best = sorted[0];
  engine.clear();
  const candidates: CandidateSummary[] = [];
  for (const b of sorted) {
    candidates.push({
      reward: b.score,
      cost: await request.cost.cost(b.text),
      ...(request.safety ? { chargedCost: b.charged } : {}),
      score: b.score,
      tokens: b.tokens.length,
      chosen: b === best,
    });
  }
  return finishResult({
    method: request.safety ? "beam-safe" : "beam",
    engine,
    tokens: best?.tokens ?? [],
    sumLogProb: best?.sumLogProb ?? 0,
    reward: best?.score ?? 0,
    text: best?.text ?? "",
    cost: request.cost,
    budget,
    stopReason: aborted ? "aborted" : (best?.finished ?? "eog"),
    seed: request.seed,
    started,
    candidates,
  });
}
