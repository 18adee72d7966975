// When a search whose answer has ended stops (issue 18: without it a finished 8-token answer kept K
// beams decoding to max-tokens).
import type { Candidate, Hypothesis } from "./searchState.js";

/**
 * It stops once an ended answer ranks above every live beam (`rankedFirst`), or once the live beams
 * have run `patienceBlocks` blocks past the first ended answer *and* are `lengthRatio` times as long
 * as the best ended answer (the one the search would return). Live beams that rank above every
 * ended answer may still end with a better one, so they go on in proportion to that answer's length
 * (issue 26: a fixed 4 blocks dropped them while the answers that had ended were still short, 0.47 ->
 * 0.10 reward at branch always); the work stays bounded per answer token whatever max-tokens is:
 * the search decodes at most max(lengthRatio x its answer's tokens, patienceBlocks blocks past the
 * first ending) tokens deep.
 */
export interface EndPolicy {
  rankedFirst: boolean;
  patienceBlocks: number;
  lengthRatio: number;
}

export const DEFAULT_END_POLICY: Readonly<EndPolicy> = { rankedFirst: true, patienceBlocks: 4, lengthRatio: 8 };

/** The policy applied block by block: remembers the block in which an answer first ended. */
export class EndWatch {
  private firstEnded: number | undefined;

  constructor(private readonly policy: EndPolicy) {}

  /**
   * After block `block` (its candidates `ranked`, best first; every answer ended so far in
   * `finished`, the beams still growing in `live`): whether the live beams stop here.
   */
  decided(block: number, ranked: readonly Candidate[], finished: readonly Hypothesis[], live: readonly Hypothesis[]): boolean {
    if (finished.length === 0 || live.length === 0) return false;
    this.firstEnded ??= block;
    if (this.policy.rankedFirst && ranked[0]!.done !== null) return true;
    if (block - this.firstEnded < this.policy.patienceBlocks) return false;
    const best = finished.reduce((a, b) => (b.score > a.score ? b : a));
    const deepest = Math.max(...live.map((h) => h.tokens.length));
    return deepest >= this.policy.lengthRatio * best.tokens.length;
  }
}
