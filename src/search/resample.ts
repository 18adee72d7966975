// A block searched in full: every live beam draws its share of N candidates, they are charged,
// those over budget dropped and the rest scored. When every candidate is over budget, the tokens
// they used are penalised (per beam) and the block resampled from the same beams, up to M times;
// after that the search has no safe continuation (fallback).
import { deriveSeed } from "./seed.js";
import { chargeCosts } from "./charge.js";
import { accumulatePenalty, type TokenPenalty } from "./penalty.js";
import { isOverBudget } from "./safetyState.js";
import { basePenalty, drawShares, sampleBlock } from "./sampling.js";
import { scoreCandidates } from "./scoring.js";
import { releaseCandidate, type Candidate, type Hypothesis, type SearchContext } from "./searchState.js";
import type { BranchReason } from "./types.js";

export interface FullBlock {
  /** The candidates within budget (scored), or null when every one stayed over budget after M resampling rounds. */
  safe: Candidate[] | null;
  /** The block's draws over all its attempts, and how many went over budget (branch "auto" reads the share). */
  draws: number;
  unsafeDraws: number;
  /** Resampling rounds run. */
  resamples: number;
}

/** `branched`: why this block searches in full (branch "auto"), for its trace entries. */
export async function searchBlock(ctx: SearchContext, live: Hypothesis[], block: number, branched: BranchReason | undefined): Promise<FullBlock> {
  const { o } = ctx;
  const penalties: TokenPenalty[] = live.map(() => basePenalty(ctx));
  const shares = drawShares(o.samples, live.length);
  const stats = { draws: 0, unsafeDraws: 0, resamples: 0 };
  for (let attempt = 0; attempt <= o.maxResamples; attempt++) {
    if (attempt > 0) {
      stats.resamples++;
      await redecodeLast(ctx, live);
    }
    const candidates = await sampleBlock(ctx, live, shares, penalties, (w) => deriveSeed(ctx.seed, block, attempt, w));
    await chargeCosts(ctx, live, candidates);
    const safe = candidates.filter((c) => !isOverBudget(c.cost, o.budget));
    const unsafe = candidates.filter((c) => isOverBudget(c.cost, o.budget));
    for (const c of candidates) stats.draws += c.count;
    for (const c of unsafe) stats.unsafeDraws += c.count;
    if (safe.length > 0) {
      for (const c of unsafe) releaseCandidate(ctx.pool, c);
      await scoreCandidates(ctx, live, safe);
      ctx.trace?.record(block, attempt, safe, unsafe, branched);
      return { safe, ...stats };
    }
    ctx.trace?.record(block, attempt, [], unsafe, branched);
    live.forEach((_, b) =>
      accumulatePenalty(penalties[b], unsafe.filter((c) => c.beam === b).map((c) => c.newTokens), o.penalty),
    );
    for (const c of unsafe) releaseCandidate(ctx.pool, c);
  }
  return { safe: null, ...stats };
}

/** A block searched again starts from the beams: re-decode their last token to get fresh rows. */
export async function redecodeLast(ctx: SearchContext, live: Hypothesis[]): Promise<void> {
  const { engine } = ctx;
  for (const h of live) engine.truncate(h.seq, h.pos - 1);
  await engine.step(
    Int32Array.from(live, (h) => h.lastToken),
    Int32Array.from(live, (h) => h.pos - 1),
    Int32Array.from(live, (h) => h.seq),
  );
  live.forEach((h, i) => (h.row = i));
}
