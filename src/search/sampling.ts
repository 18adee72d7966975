// Drawing a block's candidates: W tokens per draw, grown as a prefix tree (growTree grows each beam
// in a fork, so its own sequence stays intact for a resampling round; identical draws come out
// once, with their count), with each candidate's hidden state copied out while its row is valid.
import { doomedCheck } from "./charge.js";
import type { TokenPenalty } from "./penalty.js";
import { toCandidate, type Candidate, type Hypothesis, type SearchContext } from "./searchState.js";
import { growTree, type TreeRoot } from "./tree.js";

/** W tokens for `draws[b]` draws from each beam b, sampled with the beam's `bias`, as candidates. */
export async function sampleBlock(
  ctx: SearchContext,
  live: Hypothesis[],
  draws: number[],
  bias: TokenPenalty[],
  seedAt: (w: number) => bigint,
): Promise<Candidate[]> {
  const { o } = ctx;
  const roots: TreeRoot[] = live.map((beam, b) => ({
    seq: beam.seq, row: beam.row, pos: beam.pos, written: beam.tokens.length, sumLogProb: beam.sumLogProb, draws: draws[b], bias: bias[b],
  }));
  const leaves = await growTree(ctx.engine, ctx.pool, roots, {
    width: o.width,
    maxTokens: ctx.maxTokens,
    params: { temperature: o.temperature, topK: o.topK, topP: o.topP },
    seedAt,
    captureHidden: true,
    doomed: doomedCheck(ctx, live),
  });
  return leaves.map((l) => toCandidate(l, live));
}

/** Each live beam's share of the block's N draws (the first N mod K beams get one more). */
export function drawShares(samples: number, beams: number): number[] {
  const base = Math.floor(samples / beams);
  return Array.from({ length: beams }, (_, b) => base + (b < samples % beams ? 1 : 0));
}

/** The bias every draw starts from: with ignoreEos, end-of-generation tokens are never sampled. */
export function basePenalty(ctx: SearchContext): TokenPenalty {
  const penalty: TokenPenalty = new Map();
  if (ctx.o.ignoreEos) for (const t of ctx.engine.endOfGenerationTokens()) penalty.set(t, -Infinity);
  return penalty;
}
