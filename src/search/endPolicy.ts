// When a search whose answer has ended stops (issue 18: without it a finished 8-token answer kept K
// beams decoding to max-tokens).
import type { Candidate } from "./searchState.js";

/**
 * It stops once an ended answer ranks above every live beam (`rankedFirst`), or `patienceBlocks`
 * blocks after the first answer ended: live beams may still end with a better answer, but not for
 * longer than that.
 */
export interface EndPolicy {
  rankedFirst: boolean;
  patienceBlocks: number;
}

export const DEFAULT_END_POLICY: Readonly<EndPolicy> = { rankedFirst: true, patienceBlocks: 4 };

/** The policy applied block by block: remembers the block in which an answer first ended. */
export class EndWatch {
  private firstEnded: number | undefined;

  constructor(private readonly policy: EndPolicy) {}

  /** After block `block` (its candidates `ranked`, best first): whether the live beams stop here. */
  decided(block: number, ranked: readonly Candidate[], finished: number, live: number): boolean {
    if (finished === 0 || live === 0) return false;
    this.firstEnded ??= block;
    return (this.policy.rankedFirst && ranked[0]!.done !== null) || block - this.firstEnded >= this.policy.patienceBlocks;
  }
}
