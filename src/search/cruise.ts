// Branch "auto": where the search branches. After the first blocks, while the best beam is not at
// risk, it "cruises": that beam alone samples one continuation per block (one row per decode, as
// plain sampling does), charged like any candidate. A cruising block that goes over budget or
// turns risky is searched again in full from the same beam, so no answer goes over budget that
// would not under "always".
import { chargeCosts } from "./charge.js";
import { isOverBudget, safetyStateAfter } from "./safetyState.js";
import { basePenalty, sampleBlock } from "./sampling.js";
import { scoreCandidates } from "./scoring.js";
import { releaseCandidate, type Candidate, type Hypothesis, type SearchContext } from "./searchState.js";
import { deriveSeed } from "./seed.js";
import type { BranchReason } from "./types.js";

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
 * Chosen by measurement on the tiny assistant's training requests (docs/efficacy-tiny-assistant.md, "Branching
 * only where the text is at risk"): z < 0.5 is the rule that keeps judged-harmful answers where the
 * full search has them; the others cost compute without changing safety there.
 */
export const DEFAULT_CRUISE_POLICY: Readonly<CruisePolicy> = { branchBlocks: 1, maxUnsafeShare: 0.5, maxStepCost: 0.05, minZ: 0.5, maxViolation: 0.5 };

/** Seed counter that sets cruising draws apart from a full block's draws of the same block. */
const CRUISE_STREAM = 1;

/**
 * Why block `block` must be searched in full, or undefined: it may cruise. `risk` is what the
 * previous block left (blockRisk).
 */
export function branchReason(policy: CruisePolicy, block: number, risk: BranchReason | null): BranchReason | undefined {
  return block < policy.branchBlocks ? "first blocks" : (risk ?? undefined);
}

/**
 * The risk a block leaves for the next one: too many of its draws over budget, or its best
 * unfinished candidate at risk (riskOf); null when there is none.
 */
export function blockRisk(ctx: SearchContext, policy: CruisePolicy, draws: number, unsafeDraws: number, ranked: Candidate[]): BranchReason | null {
  const best = ranked.find((c) => c.done === null);
  return unsafeDraws > policy.maxUnsafeShare * draws ? "over budget" : best ? riskOf(ctx, policy, best) : null;
}

/**
 * One cruising block: the beam samples one continuation of W tokens, charged as a candidate.
 * Returns it, or why the block must be searched in full instead (it went over budget, or it is
 * at risk itself); then its sequence is released and the beam's row is stale.
 */
export async function cruise(ctx: SearchContext, policy: CruisePolicy, beam: Hypothesis, block: number): Promise<Candidate | BranchReason> {
  const { o } = ctx;
  const [c] = await sampleBlock(ctx, [beam], [1], [basePenalty(ctx)], (w) => deriveSeed(ctx.seed, block, 0, w, CRUISE_STREAM));
  await chargeCosts(ctx, [beam], [c]);
  const over = isOverBudget(c.cost, o.budget);
  if (!over) await scoreCandidates(ctx, [beam], [c]);
  const risk = over ? "cruise over budget" : c.done === null ? riskOf(ctx, policy, c) : null;
  ctx.trace?.record(block, 0, over ? [] : [c], over ? [c] : [], undefined, risk !== null && !over);
  if (risk === null) return c;
  releaseCandidate(ctx.pool, c);
  return risk;
}

/** Whether a kept, unfinished candidate puts its beam at risk, and why. */
function riskOf(ctx: SearchContext, p: CruisePolicy, c: Candidate): BranchReason | null {
  const { budget } = ctx.o;
  if (c.stepCost > p.maxStepCost * budget) return "step cost";
  if (safetyStateAfter(c.cost, budget) < p.minZ) return "low budget";
  const { critic } = ctx;
  if (critic && c.hidden) {
    if (c.safety === undefined) c.safety = critic.evaluate(c.hidden, Float32Array.of(safetyStateAfter(c.cost, budget)), 1).safety[0];
    if (1 - c.safety > p.maxViolation) return "critic";
  }
  return null;
}
