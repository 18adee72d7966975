// InferenceGuard: beam search over blocks of W tokens in the safety-augmented MDP.
// Each block: every live beam forks into candidates, W tokens are sampled for all candidates in
// batched decodes, each candidate's cost updates its safety state z, candidates over budget are
// dropped, the rest are scored (reward signal + critic on [hidden state, z]) and the top K kept.
// When every candidate is over budget, the tokens they used are penalised and the block resampled.
// With branch "auto" (the default) the search branches only where the text is at risk, and
// "cruises" (the best beam alone samples one continuation per block) elsewhere: cruise.ts.
//
// This file is the block loop; each step is its own module: capacity.ts (what the engine must
// hold), resample.ts (a block searched in full, resampled while all is over budget), sampling.ts,
// charge.ts (step costs, stop sequences, the mid-block stop), scoring.ts (reward + critic),
// cruise.ts and endPolicy.ts (when to branch, when to stop), streamCommit.ts (what may be
// streamed), traceRecorder.ts; searchState.ts holds the types they share.
import { budgetWarning, type CostModel } from "../cost/costModel.js";
import type { Decoder } from "../engine/decoder.js";
import { LOGPROB_REWARD, type RewardModel, type RewardRequest } from "../reward/rewardModel.js";
import { answerTokenRoom } from "./capacity.js";
import { blockRisk, branchReason, cruise, DEFAULT_CRUISE_POLICY, type CruisePolicy } from "./cruise.js";
import { DEFAULT_END_POLICY, EndWatch, type EndPolicy } from "./endPolicy.js";
import { guardOptionsSchema, parseOptions, type GuardOptions, type ResolvedGuardOptions } from "./options.js";
import { redecodeLast, searchBlock } from "./resample.js";
import { isOverBudget } from "./safetyState.js";
import { releaseCandidate, toHypothesis, type Candidate, type Hypothesis, type SearchContext } from "./searchState.js";
import { randomSeed } from "./seed.js";
import { SequencePool } from "../engine/sequencePool.js";
import { StopSequences } from "./stop.js";
import { StreamCommit } from "./streamCommit.js";
import { TraceRecorder } from "./traceRecorder.js";
import type { BranchReason, CriticScorer, GenerationResult, StopReason } from "./types.js";
import { yieldToEventLoop } from "../util/yield.js";

export { requiredContextCells } from "./capacity.js";
export { DEFAULT_CRUISE_POLICY, type CruisePolicy } from "./cruise.js";
export { DEFAULT_END_POLICY, type EndPolicy } from "./endPolicy.js";

export interface GuardRequest {
  engine: Decoder;
  promptTokens: readonly number[];
  cost: CostModel;
  critic?: CriticScorer;
  options?: GuardOptions;
  signal?: AbortSignal;
  /**
   * Streaming: receives text as soon as it is certain to begin the final answer (the common prefix
   * of every hypothesis still in contention), never a branch the search may drop. With
   * onUnsafe=refuse nothing is certain until the end, so it all comes at once.
   */
  onText?: (delta: string) => void;
  /** What candidates are ranked by (helpfulness); default: mean token log-probability. */
  reward?: RewardModel;
  /** The request as the reward model may read it (chat messages or the completion prompt). */
  rewardRequest?: Omit<RewardRequest, "promptTokens">;
  /** Overrides of DEFAULT_END_POLICY (for measurements; not a request setting). */
  endPolicy?: Partial<EndPolicy>;
  /** Branch "auto" only: overrides of DEFAULT_CRUISE_POLICY (for measurements; not a request setting). */
  cruisePolicy?: Partial<CruisePolicy>;
}

export async function generateGuarded(request: GuardRequest): Promise<GenerationResult> {
  const started = performance.now();
  const o = parseOptions(guardOptionsSchema, request.options, "guard options");
  const search = new GuardSearch(request, o, o.seed ?? randomSeed());
  const result = await search.run();
  return { ...result, seconds: (performance.now() - started) / 1000 };
}

class GuardSearch {
  private readonly ctx: SearchContext;
  private readonly policy: CruisePolicy | null;
  private readonly end: EndWatch;
  private readonly stream: StreamCommit;
  private resamples = 0;

  constructor(
    private readonly request: GuardRequest,
    private readonly o: ResolvedGuardOptions,
    seed: number,
  ) {
    const { engine, promptTokens } = request;
    const maxTokens = answerTokenRoom(engine.info, promptTokens.length, o);
    const stops = new StopSequences(o.stop);
    this.policy = o.branch === "auto" ? { ...DEFAULT_CRUISE_POLICY, ...request.cruisePolicy } : null;
    this.ctx = {
      engine,
      pool: new SequencePool(engine, engine.info.maxSequences),
      o,
      seed,
      maxTokens,
      stops,
      cost: request.cost,
      ...(request.critic ? { critic: request.critic } : {}),
      reward: request.reward ?? LOGPROB_REWARD,
      rewardRequest: { ...request.rewardRequest, promptTokens },
      ...(o.trace ? { trace: new TraceRecorder(o.beams, o.budget, this.policy !== null) } : {}),
    };
    this.end = new EndWatch({ ...DEFAULT_END_POLICY, ...request.endPolicy });
    this.stream = new StreamCommit(request.onText, o.onUnsafe === "refuse", stops);
  }

  async run(): Promise<Omit<GenerationResult, "seconds">> {
    const { o, ctx } = this;
    const { pool } = ctx;
    let live: Hypothesis[] = [await this.root()];
    const finished: Hypothesis[] = [];
    let stop: StopReason | null = null;
    /** What the last block left for the next (branch "auto"). */
    let risk: BranchReason | null = null;

    for (let block = 0; live.length > 0; block++) {
      await yieldToEventLoop();
      if (this.request.signal?.aborted) {
        stop = "aborted";
        break;
      }
      // Branch "auto": cruise from the best beam unless the block must be searched in full.
      let safe: Candidate[] | null = null;
      let branched = this.policy ? branchReason(this.policy, block, risk) : undefined;
      if (this.policy && branched === undefined) {
        for (const h of live.slice(1)) pool.release(h.seq);
        live = live.slice(0, 1); // live is ranked
        const c = await cruise(ctx, this.policy, live[0], block);
        if (typeof c === "string") {
          branched = c;
          await redecodeLast(ctx, live);
        } else safe = [c];
      }
      let draws = 0;
      let unsafeDraws = 0;
      if (safe === null) {
        const full = await searchBlock(ctx, live, block, branched);
        this.resamples += full.resamples;
        ({ safe, draws, unsafeDraws } = full);
      }
      if (safe === null) {
        stop = "fallback";
        break;
      }

      // Keep the top K; ended answers leave the beam.
      const ranked = safe.sort((a, b) => b.score - a.score).slice(0, o.beams);
      if (this.policy) risk = blockRisk(ctx, this.policy, draws, unsafeDraws, ranked);
      const keptSeqs = new Set<number>();
      const nextLive: Hypothesis[] = [];
      for (const c of ranked) {
        const h = toHypothesis(c, live[c.beam]);
        if (h.finished) finished.push(h);
        else {
          nextLive.push(h);
          keptSeqs.add(h.seq);
        }
      }
      for (const c of safe) if (!keptSeqs.has(c.seq)) releaseCandidate(pool, c);
      for (const h of live) pool.release(h.seq);
      live = nextLive;
      this.stream.commit([...live, ...finished]);
      if (this.end.decided(block, ranked, finished, live)) {
        for (const h of live) pool.release(h.seq);
        live = [];
      }
    }

    let best: Hypothesis | undefined;
    let fallback = false;
    if (stop === "fallback" || stop === "aborted") {
      // The live beams are the longest prefixes known to be safe.
      best = [...finished, ...live].sort((a, b) => b.score - a.score)[0];
      fallback = stop === "fallback";
      if (fallback && o.onUnsafe === "refuse") best = undefined;
    } else {
      best = finished.sort((a, b) => b.score - a.score)[0];
    }
    for (const h of live) pool.release(h.seq);
    let reason = stop ?? best?.finished ?? "eog";
    if (reason === "max-tokens" && ctx.maxTokens < o.maxTokens) reason = "context";
    return this.finish(best, reason, fallback);
  }

  /** The prompt, prefilled: the one beam the first block grows from. */
  private async root(): Promise<Hypothesis> {
    const { engine, pool } = this.ctx;
    const prompt = this.request.promptTokens;
    engine.clear();
    const seq = pool.acquire();
    return {
      seq,
      tokens: [],
      text: "",
      pos: prompt.length,
      lastToken: prompt[prompt.length - 1],
      row: await engine.prefill(seq, prompt),
      cost: 0,
      sumLogProb: 0,
      reward: 0,
      score: 0,
      finished: null,
    };
  }

  /** The answer: the best hypothesis (or the refusal), then the final check that makes the budget unconditional. */
  private async finish(best: Hypothesis | undefined, stopReason: StopReason, fallback: boolean): Promise<Omit<GenerationResult, "seconds">> {
    const { o } = this;
    const cost = this.request.cost;
    const refusing = best === undefined && fallback && o.onUnsafe === "refuse";
    let text = best?.text ?? (refusing ? o.refusalText : "");
    let charged = await cost.cost(text);
    let warning: string | undefined;
    let emptied = false;
    // The sum of clipped step costs bounds the final cost; this check makes the guarantee unconditional.
    if (isOverBudget(charged, o.budget)) {
      warning = refusing
        ? `the refusal text costs ${charged} under ${cost.name}, over the budget ${o.budget}, so the answer is empty: choose a refusal text within the budget`
        : `the answer's text costs ${charged} under ${cost.name}, over the budget ${o.budget}, so the answer is empty`;
      text = "";
      charged = await cost.cost(text);
      fallback = true;
      emptied = !refusing;
    }
    const loose = budgetWarning(cost, o.budget);
    if (loose !== undefined) warning = warning === undefined ? loose : `${warning}; ${loose}`;
    this.stream.finish(text);
    const tokenIds = text === "" || text !== best?.text ? [] : best.tokens;
    return {
      method: "guard",
      text,
      tokens: tokenIds.length,
      tokenIds,
      cost: charged,
      budget: o.budget,
      withinBudget: !isOverBudget(charged, o.budget),
      reward: best?.reward ?? 0,
      stopReason,
      fallback,
      resamples: this.resamples,
      finalCheckEmptied: emptied,
      seed: this.ctx.seed,
      ...(warning !== undefined ? { warning } : {}),
      ...(this.ctx.trace ? { trace: this.ctx.trace.blocks } : {}),
    };
  }
}
