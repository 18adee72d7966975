// InferenceGuard: beam search over blocks of W tokens in the safety-augmented MDP.
// Each block: every live beam forks into candidates, W tokens are sampled for all candidates in
// batched decodes, each candidate's cost updates its safety state z, candidates over budget are
// dropped, the rest are scored (reward signal + critic on [hidden state, z]) and the top K kept.
// When every candidate is over budget, the tokens they used are penalised and the block resampled.
// With branch "auto" (the default) the search branches only where the text is at risk: after the
// first blocks, while the best beam is not at risk (CruisePolicy), it "cruises": that beam alone
// samples one continuation per block (one row per decode, as plain sampling does), whose cost is
// charged like any candidate's. A cruising block that goes over budget or turns risky is searched
// again in full from the same beam, so no answer goes over budget that would not under "always".
import { budgetWarning, type CostModel } from "../cost/costModel.js";
import { DETOKENIZE_CONTEXT } from "../engine/constants.js";
import type { Decoder } from "../engine/decoder.js";
import { UserError } from "../errors.js";
import { guardOptionsSchema, parseOptions, type GuardOptions, type ResolvedGuardOptions } from "./options.js";
import { growTree, type TreeLeaf, type TreeRoot } from "./tree.js";
import { accumulatePenalty, type TokenPenalty } from "./penalty.js";
import { isOverBudget, safetyStateAfter } from "./safetyState.js";
import { deriveSeed, randomSeed } from "./seed.js";
import { SequencePool } from "./sequencePool.js";
import { StopSequences } from "./stop.js";
import { yieldToEventLoop } from "../util/yield.js";
import { LOGPROB_REWARD, type RewardModel, type RewardRequest } from "../reward/rewardModel.js";
import type { BranchReason, CriticScorer, GenerationResult, StopReason, TraceBlock, TraceCandidate } from "./types.js";

interface Hypothesis {
  seq: number;
  tokens: number[];
  text: string;
  /** Next KV position: prompt length + answer tokens decoded. */
  pos: number;
  /** The last token in the KV cache (re-decoded when a block is resampled). */
  lastToken: number;
  /** Batch row of its last decode; valid only until the next decode. */
  row: number;
  cost: number;
  sumLogProb: number;
  /** The reward model's score of its text. */
  reward: number;
  score: number;
  finished: StopReason | null;
}

interface Candidate {
  beam: number;
  /** Its KV sequence; -1 once it ended at an end-of-generation token (nothing left to decode). */
  seq: number;
  /** How many of the N draws produced exactly this candidate. */
  count: number;
  newTokens: number[];
  pos: number;
  lastToken: number;
  row: number;
  sumLogProb: number;
  done: StopReason | null;
  /** Hidden state of its last token, copied out while its row was valid. */
  hidden?: Float32Array;
  added: string;
  /** Set when a stop sequence began before the end of the beam's text: the whole text it keeps. */
  cutText?: string;
  /** Stopped mid-block, certain to end over budget (its last token was never decoded). */
  doomed: boolean;
  stepCost: number;
  cost: number;
  reward: number;
  score: number;
  safety?: number;
  value?: number;
}

/**
 * When a search with branch "auto" cruises. A beam is at risk after a block when more than
 * maxUnsafeShare of the block's draws went over budget, or its own block cost more than
 * maxStepCost x budget, or it has less than minZ of the budget left, or (with a critic) the
 * critic's P(violation) = 1 - safety of it is above maxViolation. The block after a risky one is
 * searched in full; so is a cruising block whose continuation goes over budget or is itself at risk
 * (it is re-run from the same beam).
 */
export interface CruisePolicy {
  /** Blocks searched in full at the start, risk or not (where refusal vs compliance is decided). */
  branchBlocks: number;
  /** Share of a full block's draws that may go over budget without putting its beams at risk. */
  maxUnsafeShare: number;
  /** Share of the budget one block may cost without putting its beam at risk. */
  maxStepCost: number;
  /** Share of the budget that must remain (z) for a beam not to be at risk. */
  minZ: number;
  /** With a critic: the largest predicted P(violation) of a beam not at risk. */
  maxViolation: number;
}

/**
 * Chosen by measurement on the tiny assistant's training requests (docs/efficacy.md, "Branching
 * only where the text is at risk"): z < 0.5 is the rule that keeps judged-harmful answers where the
 * full search has them; the others cost compute without changing safety there.
 */
export const DEFAULT_CRUISE_POLICY: Readonly<CruisePolicy> = { branchBlocks: 1, maxUnsafeShare: 0.5, maxStepCost: 0.05, minZ: 0.5, maxViolation: 0.5 };

/**
 * When a search whose answer has ended stops (issue 18: without it a finished 8-token answer kept K
 * beams decoding to max-tokens). It stops once an ended answer ranks above every live beam
 * (`rankedFirst`), or `patienceBlocks` blocks after the first answer ended: live beams may still end
 * with a better answer, but not for longer than that.
 */
export interface EndPolicy {
  rankedFirst: boolean;
  patienceBlocks: number;
}

export const DEFAULT_END_POLICY: Readonly<EndPolicy> = { rankedFirst: true, patienceBlocks: 4 };

/** Seed counter that sets cruising draws apart from a full block's draws of the same block. */
const CRUISE_STREAM = 1;

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

/** Upper bound on KV cells a guarded generation needs (shared prefixes counted once). */
export function requiredContextCells(promptTokens: number, o: { beams: number; samples: number; width: number; maxTokens: number }): number {
  return promptTokens + o.beams * o.maxTokens + o.samples * o.width + o.beams + 1;
}

export async function generateGuarded(request: GuardRequest): Promise<GenerationResult> {
  const started = performance.now();
  const o = parseOptions(guardOptionsSchema, request.options, "guard options");
  const search = new GuardSearch(request, o, o.seed ?? randomSeed());
  const result = await search.run();
  return { ...result, seconds: (performance.now() - started) / 1000 };
}

class GuardSearch {
  private readonly engine: Decoder;
  private readonly pool: SequencePool;
  private readonly trace: TraceBlock[] = [];
  private readonly nEmbd: number;
  private readonly maxTokens: number;
  private resamples = 0;
  private committed = "";
  private readonly stops: StopSequences;
  private readonly policy: CruisePolicy | null;
  private readonly end: EndPolicy;
  /** Why the block being searched branched, for its trace entries (branch "auto"). */
  private branched: BranchReason | undefined;
  /** Draws of the current block (all its attempts), and how many of them went over budget. */
  private draws = 0;
  private unsafeDraws = 0;

  constructor(
    private readonly request: GuardRequest,
    private readonly o: ResolvedGuardOptions,
    private readonly seed: number,
  ) {
    this.engine = request.engine;
    this.stops = new StopSequences(o.stop);
    this.nEmbd = this.engine.info.nEmbd;
    const { contextSize, trainContextSize, maxSequences } = this.engine.info;
    const promptLength = request.promptTokens.length;
    if (promptLength === 0) throw new UserError("the prompt is empty");
    if (promptLength >= trainContextSize) {
      throw new UserError(`the prompt has ${promptLength} tokens; the model's context is ${trainContextSize}`);
    }
    if (o.beams + o.samples > maxSequences) {
      throw new UserError(`beams + samples (${o.beams + o.samples}) exceed the engine's ${maxSequences} sequences (per answer: fewer with --parallel above 4)`);
    }
    if (o.samples > this.engine.info.batchSize) {
      throw new UserError(`samples (${o.samples}) exceed the engine's batch size ${this.engine.info.batchSize}`);
    }
    // The context, not the cap, may end the answer (stopReason "context"): positions past the
    // model's trained context would degrade it, and K beams of T tokens may need up to K*T KV cells.
    const firstBlock = requiredContextCells(promptLength, { ...o, maxTokens: 0 });
    const kvRoom = Math.floor((contextSize - firstBlock) / o.beams);
    if (kvRoom < 1) {
      throw new UserError(
        `the context has ${contextSize} KV cells: the prompt (${promptLength} tokens) and one block of ${o.samples}x${o.width} candidate tokens ` +
          `need ${firstBlock + o.beams}; raise the context size or lower samples/width`,
      );
    }
    this.maxTokens = Math.min(o.maxTokens, trainContextSize - promptLength, kvRoom);
    this.pool = new SequencePool(this.engine, maxSequences);
    this.policy = o.branch === "auto" ? { ...DEFAULT_CRUISE_POLICY, ...request.cruisePolicy } : null;
    this.end = { ...DEFAULT_END_POLICY, ...request.endPolicy };
  }

  async run(): Promise<Omit<GenerationResult, "seconds">> {
    const { engine, o } = this;
    const prompt = this.request.promptTokens;
    engine.clear();
    const rootSeq = this.pool.acquire();
    const root: Hypothesis = {
      seq: rootSeq,
      tokens: [],
      text: "",
      pos: prompt.length,
      lastToken: prompt[prompt.length - 1],
      row: await engine.prefill(rootSeq, prompt),
      cost: 0,
      sumLogProb: 0,
      reward: 0,
      score: 0,
      finished: null,
    };
    let live: Hypothesis[] = [root];
    const finished: Hypothesis[] = [];
    let stop: StopReason | null = null;
    let risk: BranchReason | null = null;
    /** The block in which an answer first ended. */
    let firstEnded: number | undefined;

    for (let block = 0; live.length > 0; block++) {
      await yieldToEventLoop();
      if (this.request.signal?.aborted) {
        stop = "aborted";
        break;
      }
      let safe: Candidate[] | null = null;
      this.draws = 0;
      this.unsafeDraws = 0;
      if (this.policy) {
        this.branched = block < this.policy.branchBlocks ? "first blocks" : (risk ?? undefined);
        if (this.branched === undefined) {
          // Cruise: the best live beam alone (live is ranked) samples one continuation.
          for (const h of live.slice(1)) this.pool.release(h.seq);
          live = live.slice(0, 1);
          const c = await this.cruise(live[0], block);
          if (typeof c === "string") {
            this.branched = c;
            await this.redecodeLast(live);
          } else safe = [c];
        }
      }
      safe ??= await this.searchBlock(live, block);
      if (safe === null) {
        stop = "fallback";
        break;
      }
      const ranked = safe.sort((a, b) => b.score - a.score).slice(0, o.beams);
      if (this.policy) {
        const best = ranked.find((c) => c.done === null);
        risk = this.unsafeDraws > this.policy.maxUnsafeShare * this.draws ? "over budget" : best ? this.riskOf(best) : null;
      }
      const keptSeqs = new Set<number>();
      const nextLive: Hypothesis[] = [];
      for (const c of ranked) {
        const h = this.toHypothesis(c, live[c.beam]);
        if (h.finished) finished.push(h);
        else {
          nextLive.push(h);
          keptSeqs.add(h.seq);
        }
      }
      for (const c of safe) if (!keptSeqs.has(c.seq)) this.releaseCandidate(c);
      for (const h of live) this.pool.release(h.seq);
      live = nextLive;
      this.commit([...live, ...finished]);
      // The answer is decided (EndPolicy).
      if (finished.length > 0 && live.length > 0) {
        firstEnded ??= block;
        if ((this.end.rankedFirst && ranked[0]!.done !== null) || block - firstEnded >= this.end.patienceBlocks) {
          for (const h of live) this.pool.release(h.seq);
          live = [];
        }
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
    for (const h of live) this.pool.release(h.seq);
    let reason = stop ?? best?.finished ?? "eog";
    if (reason === "max-tokens" && this.maxTokens < o.maxTokens) reason = "context";
    return this.finish(best, reason, fallback);
  }

  /**
   * Samples and filters one block. Returns the candidates within budget, or null when every
   * candidate stayed over budget after M resampling rounds.
   */
  private async searchBlock(live: Hypothesis[], block: number): Promise<Candidate[] | null> {
    const penalties: TokenPenalty[] = live.map(() => this.basePenalty());
    for (let attempt = 0; attempt <= this.o.maxResamples; attempt++) {
      if (attempt > 0) {
        this.resamples++;
        await this.redecodeLast(live);
      }
      const candidates = await this.expand(live, penalties, block, attempt);
      await this.chargeCosts(live, candidates);
      const safe = candidates.filter((c) => !isOverBudget(c.cost, this.o.budget));
      const unsafe = candidates.filter((c) => isOverBudget(c.cost, this.o.budget));
      for (const c of candidates) this.draws += c.count;
      for (const c of unsafe) this.unsafeDraws += c.count;
      if (safe.length > 0) {
        for (const c of unsafe) this.releaseCandidate(c);
        await this.score(live, safe);
        if (this.o.trace) this.recordTrace(block, attempt, live, safe, unsafe);
        return safe;
      }
      if (this.o.trace) this.recordTrace(block, attempt, live, [], unsafe);
      live.forEach((_, b) =>
        accumulatePenalty(penalties[b], unsafe.filter((c) => c.beam === b).map((c) => c.newTokens), this.o.penalty),
      );
      for (const c of unsafe) this.releaseCandidate(c);
    }
    return null;
  }

  /** With ignoreEos, end-of-generation tokens are never sampled. */
  private basePenalty(): TokenPenalty {
    const penalty: TokenPenalty = new Map();
    if (this.o.ignoreEos) for (const t of this.engine.endOfGenerationTokens()) penalty.set(t, -Infinity);
    return penalty;
  }

  /**
   * Samples the block's N candidates as a prefix tree (growTree): each live beam draws its share of
   * N with its own penalties, and identical candidates come out once (with their count).
   */
  private async expand(live: Hypothesis[], penalties: TokenPenalty[], block: number, attempt: number): Promise<Candidate[]> {
    const base = Math.floor(this.o.samples / live.length);
    const draws = live.map((_, b) => base + (b < this.o.samples % live.length ? 1 : 0));
    return this.sampleBlock(live, draws, penalties, (w) => deriveSeed(this.seed, block, attempt, w));
  }

  /**
   * W tokens for `draws[b]` draws from each beam b (growTree grows each beam in a fork: the beam's
   * own sequence stays intact for a resampling round), as candidates with their hidden states.
   */
  private async sampleBlock(live: Hypothesis[], draws: number[], bias: TokenPenalty[], seedAt: (w: number) => bigint): Promise<Candidate[]> {
    const { o } = this;
    const roots: TreeRoot[] = live.map((beam, b) => ({
      seq: beam.seq, row: beam.row, pos: beam.pos, written: beam.tokens.length, sumLogProb: beam.sumLogProb, draws: draws[b], bias: bias[b],
    }));
    const leaves = await growTree(this.engine, this.pool, roots, {
      width: o.width,
      maxTokens: this.maxTokens,
      params: { temperature: o.temperature, topK: o.topK, topP: o.topP },
      seedAt,
      captureHidden: true,
      doomed: this.doomedCheck(live),
    });
    return leaves.map((l) => toCandidate(l, live));
  }

  /**
   * With a cost model that knows which part of a text is settled (the lexicon), the check that
   * stops a candidate mid-block once that part puts it over budget: it would be dropped at the
   * block's end anyway, so its later tokens are not decoded (issue 18). Text where a stop sequence
   * may begin is not counted: the candidate may yet end before it.
   */
  private doomedCheck(live: Hypothesis[]): ((root: number, tokens: readonly number[]) => boolean) | undefined {
    const settled = this.request.cost.settledStepCost;
    if (settled === undefined) return undefined;
    const cost = this.request.cost;
    const { budget } = this.o;
    return (root, tokens) => {
      const beam = live[root];
      let added = this.engine.detokenize(tokens, beam.tokens.slice(-DETOKENIZE_CONTEXT));
      if (!this.stops.empty) {
        const start = this.stops.firstPossibleStart(beam.text + added, beam.text.length) - beam.text.length;
        if (start < 0) return false; // it may cut into the beam's own text
        added = added.slice(0, start);
      }
      return isOverBudget(beam.cost + settled.call(cost, beam.text, added), budget);
    };
  }

  /**
   * One cruising block: the beam samples one continuation of W tokens, charged as a candidate.
   * Returns it, or why the block must be searched in full instead (it went over budget, or it is
   * at risk itself); then its sequence is released and the beam's row is stale.
   */
  private async cruise(beam: Hypothesis, block: number): Promise<Candidate | BranchReason> {
    const { o } = this;
    const [c] = await this.sampleBlock([beam], [1], [this.basePenalty()], (w) => deriveSeed(this.seed, block, 0, w, CRUISE_STREAM));
    await this.chargeCosts([beam], [c]);
    const over = isOverBudget(c.cost, o.budget);
    if (!over) await this.score([beam], [c]);
    const risk = over ? "cruise over budget" : c.done === null ? this.riskOf(c) : null;
    if (o.trace) {
      this.recordTrace(block, 0, [beam], over ? [] : [c], over ? [c] : [], risk !== null && !over);
    }
    if (risk === null) return c;
    this.releaseCandidate(c);
    return risk;
  }

  /** Branch "auto": whether a kept, unfinished candidate puts its beam at risk, and why. */
  private riskOf(c: Candidate): BranchReason | null {
    const p = this.policy!;
    const { budget } = this.o;
    if (c.stepCost > p.maxStepCost * budget) return "step cost";
    if (safetyStateAfter(c.cost, budget) < p.minZ) return "low budget";
    const critic = this.request.critic;
    if (critic && c.hidden) {
      if (c.safety === undefined) c.safety = critic.evaluate(c.hidden, Float32Array.of(safetyStateAfter(c.cost, budget)), 1).safety[0];
      if (1 - c.safety > p.maxViolation) return "critic";
    }
    return null;
  }

  private releaseCandidate(c: Candidate): void {
    if (c.seq >= 0) this.pool.release(c.seq);
  }

  /** A resampled block starts from the beams again: re-decode their last token to get fresh rows. */
  private async redecodeLast(live: Hypothesis[]): Promise<void> {
    for (const h of live) this.engine.truncate(h.seq, h.pos - 1);
    await this.engine.step(
      Int32Array.from(live, (h) => h.lastToken),
      Int32Array.from(live, (h) => h.pos - 1),
      Int32Array.from(live, (h) => h.seq),
    );
    live.forEach((h, i) => (h.row = i));
  }

  private async chargeCosts(live: Hypothesis[], candidates: Candidate[]): Promise<void> {
    for (const c of candidates) {
      const beam = live[c.beam];
      c.added = c.newTokens.length === 0 ? "" : this.engine.detokenize(c.newTokens, beam.tokens.slice(-DETOKENIZE_CONTEXT));
      this.applyStop(beam, c);
    }
    const costs = await this.request.cost.stepCosts(candidates.map((c) => ({ prefix: c.cutText ?? live[c.beam].text, added: c.added })));
    candidates.forEach((c, i) => {
      const stepCost = costs[i];
      if (!(stepCost >= 0)) throw new Error(`cost model ${this.request.cost.name} returned an invalid step cost: ${stepCost}`);
      c.stepCost = stepCost;
      c.cost = live[c.beam].cost + stepCost;
      // Its sequence lacks its last token: it must never be kept (a settled cost above the step cost is a cost model bug).
      if (c.doomed && !isOverBudget(c.cost, this.o.budget)) {
        throw new Error(`cost model ${this.request.cost.name}: a settled step cost was above the step cost of the same text and more`);
      }
    });
  }

  /**
   * A candidate whose text would contain a stop sequence ends before it (stopReason
   * "stop-sequence"). A sequence that began in the beam's own text cuts into it: the streamed text
   * never reached that far (see commit), and the cut text is charged as it is.
   */
  private applyStop(beam: Hypothesis, c: Candidate): void {
    if (this.stops.empty || c.added === "") return;
    const full = beam.text + c.added;
    const at = this.stops.find(full, beam.text.length);
    if (at < 0) return;
    c.done = "stop-sequence";
    if (at >= beam.text.length) c.added = full.slice(beam.text.length, at);
    else {
      c.cutText = full.slice(0, at);
      c.added = "";
    }
  }

  /** Score = the reward model's reward (+ criticWeight * critic's penalised-return estimate). */
  private async score(live: Hypothesis[], safe: Candidate[]): Promise<void> {
    const reward = this.request.reward ?? LOGPROB_REWARD;
    const rewards = await reward.score(
      { ...this.request.rewardRequest, promptTokens: this.request.promptTokens },
      safe.map((c) => {
        const beam = live[c.beam];
        return { tokens: beam.tokens.concat(c.newTokens), text: c.cutText ?? beam.text + c.added, sumLogProb: c.sumLogProb, hidden: c.hidden };
      }),
    );
    safe.forEach((c, i) => {
      if (!Number.isFinite(rewards[i])) throw new Error(`reward model ${reward.name} returned an invalid reward: ${rewards[i]}`);
      c.reward = c.score = rewards[i];
    });
    const critic = this.request.critic;
    if (!critic || this.o.criticWeight === 0) return;
    const hidden = new Float32Array(safe.length * this.nEmbd);
    const z = new Float32Array(safe.length);
    safe.forEach((c, i) => {
      hidden.set(c.hidden!, i * this.nEmbd);
      z[i] = safetyStateAfter(c.cost, this.o.budget);
    });
    const { safety, value } = critic.evaluate(hidden, z, safe.length);
    safe.forEach((c, i) => {
      c.safety = safety[i];
      c.value = value[i];
      const penalisedReturn = safety[i] * value[i] - (1 - safety[i]) * this.o.violationPenalty;
      c.score += this.o.criticWeight * penalisedReturn;
    });
  }

  private toHypothesis(c: Candidate, beam: Hypothesis): Hypothesis {
    return {
      seq: c.seq,
      tokens: beam.tokens.concat(c.newTokens),
      text: c.cutText ?? beam.text + c.added,
      pos: c.pos,
      lastToken: c.lastToken,
      row: c.row,
      cost: c.cost,
      sumLogProb: c.sumLogProb,
      reward: c.reward,
      score: c.score,
      finished: c.done,
    };
  }

  private async finish(best: Hypothesis | undefined, stopReason: StopReason, fallback: boolean): Promise<Omit<GenerationResult, "seconds">> {
    const { o } = this;
    const refusing = best === undefined && fallback && o.onUnsafe === "refuse";
    let text = best?.text ?? (refusing ? o.refusalText : "");
    let cost = await this.request.cost.cost(text);
    let warning: string | undefined;
    let emptied = false;
    // The sum of clipped step costs bounds the final cost; this check makes the guarantee unconditional.
    if (isOverBudget(cost, o.budget)) {
      const name = this.request.cost.name;
      warning = refusing
        ? `the refusal text costs ${cost} under ${name}, over the budget ${o.budget}, so the answer is empty: choose a refusal text within the budget`
        : `the answer's text costs ${cost} under ${name}, over the budget ${o.budget}, so the answer is empty`;
      text = "";
      cost = await this.request.cost.cost(text);
      fallback = true;
      emptied = !refusing;
    }
    const loose = budgetWarning(this.request.cost, o.budget);
    if (loose !== undefined) warning = warning === undefined ? loose : `${warning}; ${loose}`;
    if (text.startsWith(this.committed)) this.emit(text.slice(this.committed.length));
    const tokenIds = text === "" || text !== best?.text ? [] : best.tokens;
    return {
      method: "guard",
      text,
      tokens: tokenIds.length,
      tokenIds,
      cost,
      budget: o.budget,
      withinBudget: !isOverBudget(cost, o.budget),
      reward: best?.reward ?? 0,
      stopReason,
      fallback,
      resamples: this.resamples,
      finalCheckEmptied: emptied,
      seed: this.seed,
      ...(warning !== undefined ? { warning } : {}),
      ...(o.trace ? { trace: this.trace } : {}),
    };
  }

  /** Streams the common prefix of all contenders (minus what was already sent). */
  private commit(contenders: Hypothesis[]): void {
    if (!this.request.onText || this.o.onUnsafe === "refuse" || contenders.length === 0) return;
    let prefix = contenders[0].text;
    for (const h of contenders) {
      let i = 0;
      const n = Math.min(prefix.length, h.text.length);
      while (i < n && prefix.charCodeAt(i) === h.text.charCodeAt(i)) i++;
      prefix = prefix.slice(0, i);
    }
    // Text that may still turn out to begin a stop sequence waits.
    prefix = prefix.slice(0, this.stops.safeLength(prefix));
    // Never split a UTF-16 surrogate pair across two deltas.
    if (prefix.length > 0 && /[\uD800-\uDBFF]/.test(prefix[prefix.length - 1])) prefix = prefix.slice(0, -1);
    if (prefix.length > this.committed.length) this.emit(prefix.slice(this.committed.length));
  }

  private emit(delta: string): void {
    if (delta === "" || !this.request.onText) return;
    this.committed += delta;
    this.request.onText(delta);
  }

  /** `rejected`: a cruising candidate within budget but at risk (its block is searched again). */
  private recordTrace(block: number, attempt: number, live: Hypothesis[], safe: Candidate[], unsafe: Candidate[], rejected = false): void {
    const kept = new Set(rejected ? [] : [...safe].sort((a, b) => b.score - a.score).slice(0, this.o.beams));
    const entry = (c: Candidate, status: TraceCandidate["status"]): TraceCandidate => ({
      beam: c.beam,
      count: c.count,
      added: c.added,
      stepCost: c.stepCost,
      cost: c.cost,
      z: safetyStateAfter(c.cost, this.o.budget),
      // Over-budget candidates are never ranked, so never scored by the reward model.
      ...(status === "dropped: over budget" ? {} : { reward: c.reward }),
      ...(c.safety !== undefined ? { safety: c.safety, value: c.value } : {}),
      ...(status === "dropped: over budget" ? {} : { score: c.score }),
      ...(c.doomed ? { stoppedMidBlock: true as const } : {}),
      status,
    });
    const cruise = this.policy !== null && this.branched === undefined;
    this.trace.push({
      block,
      attempt,
      ...(cruise ? { cruise: true as const } : {}),
      ...(this.policy && this.branched !== undefined ? { branched: this.branched } : {}),
      candidates: [
        ...safe.map((c) => entry(c, kept.has(c) ? (c.done ? "finished" : "kept") : rejected ? "dropped: at risk" : "dropped: rank")),
        ...unsafe.map((c) => entry(c, "dropped: over budget")),
      ],
    });
  }
}

function toCandidate(l: TreeLeaf, live: Hypothesis[]): Candidate {
  return {
    beam: l.root, seq: l.seq, count: l.count, newTokens: l.tokens, pos: l.pos,
    lastToken: l.tokens.length > 0 ? l.tokens[l.tokens.length - 1] : live[l.root].lastToken,
    row: l.row, sumLogProb: l.sumLogProb, done: l.stop === "over-budget" ? null : l.stop, doomed: l.stop === "over-budget", hidden: l.hidden,
    added: "", stepCost: 0, cost: live[l.root].cost, reward: 0, score: 0,
  };
}
