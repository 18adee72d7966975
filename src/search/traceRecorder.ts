// The search's trace (options.trace): one entry per block attempt, every candidate with its added
// text, step and cumulative cost, z, reward, critic estimates, score, and what became of it.
import { safetyStateAfter } from "./safetyState.js";
import type { BranchReason, StopReason, TraceBlock, TraceCandidate } from "./types.js";

/**
 * What the trace reads of a candidate (searchState.ts's Candidate has all of it; declared here so
 * that module, whose context holds the recorder, and this one do not import each other).
 */
interface Candidate {
  beam: number;
  count: number;
  added: string;
  stepCost: number;
  cost: number;
  reward: number;
  score: number;
  safety?: number;
  value?: number;
  doomed: boolean;
  done: StopReason | null;
}

export class TraceRecorder {
  readonly blocks: TraceBlock[] = [];

  /** `auto`: branch "auto" (entries say whether they cruised, or why they branched). */
  constructor(
    private readonly beams: number,
    private readonly budget: number,
    private readonly auto: boolean,
  ) {}

  /**
   * `branched`: why a full block searched in full (undefined while cruising); `rejected`: a
   * cruising candidate within budget but at risk (its block is searched again).
   */
  record(block: number, attempt: number, safe: Candidate[], unsafe: Candidate[], branched: BranchReason | undefined, rejected = false): void {
    const kept = new Set(rejected ? [] : [...safe].sort((a, b) => b.score - a.score).slice(0, this.beams));
    const entry = (c: Candidate, status: TraceCandidate["status"]): TraceCandidate => ({
      beam: c.beam,
      count: c.count,
      added: c.added,
      stepCost: c.stepCost,
      cost: c.cost,
      z: safetyStateAfter(c.cost, this.budget),
      // Over-budget candidates are never ranked, so never scored by the reward model.
      ...(status === "dropped: over budget" ? {} : { reward: c.reward }),
      ...(c.safety !== undefined ? { safety: c.safety, value: c.value } : {}),
      ...(status === "dropped: over budget" ? {} : { score: c.score }),
      ...(c.doomed ? { stoppedMidBlock: true as const } : {}),
      status,
    });
    this.blocks.push({
      block,
      attempt,
      ...(this.auto && branched === undefined ? { cruise: true as const } : {}),
      ...(this.auto && branched !== undefined ? { branched } : {}),
      candidates: [
        ...safe.map((c) => entry(c, kept.has(c) ? (c.done ? "finished" : "kept") : rejected ? "dropped: at risk" : "dropped: rank")),
        ...unsafe.map((c) => entry(c, "dropped: over budget")),
      ],
    });
  }
}
