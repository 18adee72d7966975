// Sampling many draws from a few starting points as a prefix tree, the way the guard samples a
// block: each root draws its share of the draws, and draws that picked the same tokens so far
// share one KV sequence (and one row per decode) until they diverge. The draws are the same
// independent samples that separate sequences would make; only duplicated decoding is skipped,
// and identical continuations come out once, with the number of draws that produced them.
import type { Engine } from "../../engine/engine.js";
import type { SampleParams } from "../../native.js";
import { yieldToEventLoop } from "../../util/yield.js";
import type { SequencePool } from "../sequencePool.js";
import type { StopReason } from "../types.js";

/** Where a set of draws starts: a sequence whose last decode left its next-token row. */
export interface TreeRoot {
  seq: number;
  /** Batch row of the root's last decode (valid now). */
  row: number;
  /** Next KV position. */
  pos: number;
  /** Answer tokens already written before the root (counts toward maxTokens). */
  written: number;
  draws: number;
}

export interface TreeLeaf {
  /** Index of the root it grew from. */
  root: number;
  /** Its KV sequence (from the pool); -1 when it ended at an end-of-generation token as a branch. */
  seq: number;
  /** How many draws produced exactly this continuation. */
  count: number;
  /** Tokens added after the root. */
  tokens: number[];
  /** Sum of their log-probabilities under the base model. */
  sumLogProb: number;
  pos: number;
  /** Batch row of its last decode: valid after growTree for leaves with stop === null. */
  row: number;
  /** Why it stopped before `width` tokens, or null when it is still open. */
  stop: StopReason | null;
}

export interface GrowOptions {
  /** Tokens to add at most (a block). */
  width: number;
  /** Answer length cap (root.written + added). */
  maxTokens: number;
  params: SampleParams;
  /** Seed of the draws of token step w. */
  seedAt: (w: number) => bigint;
  signal?: AbortSignal;
}

/** Steps between yields to the event loop, so aborts and timers get a turn. */
const YIELD_EVERY_STEPS = 8;

/**
 * Samples up to `width` tokens for every draw of every root. Roots keep their own sequences (each
 * grows in a fork); leaves own the sequences they return (release them with the pool).
 */
export async function growTree(engine: Engine, pool: SequencePool, roots: readonly TreeRoot[], o: GrowOptions): Promise<TreeLeaf[]> {
  const leaves: TreeLeaf[] = [];
  const written = roots.map((r) => r.written);
  roots.forEach((r, i) => {
    if (r.draws === 0) return;
    const seq = pool.acquire();
    engine.fork(r.seq, seq);
    leaves.push({ root: i, seq, count: r.draws, tokens: [], sumLogProb: 0, pos: r.pos, row: r.row, stop: null });
  });
  for (let w = 0; w < o.width; w++) {
    if (w > 0 && w % YIELD_EVERY_STEPS === 0) await yieldToEventLoop();
    const active = leaves.filter((l) => l.stop === null);
    if (active.length === 0) break;
    if (o.signal?.aborted) {
      for (const l of active) l.stop = "aborted";
      break;
    }
    // One sampled row per draw: a leaf standing for `count` draws samples `count` times.
    const owners: TreeLeaf[] = [];
    for (const l of active) for (let k = 0; k < l.count; k++) owners.push(l);
    const { tokens, logProbs } = engine.sample(Int32Array.from(owners, (l) => l.row), o.params, o.seedAt(w));
    const extending: TreeLeaf[] = [];
    let d = 0;
    for (const leaf of active) {
      // Group this leaf's draws by token, in draw order (deterministic).
      const groups = new Map<number, { count: number; logProb: number }>();
      for (let k = 0; k < leaf.count; k++, d++) {
        const g = groups.get(tokens[d]);
        if (g) g.count++;
        else groups.set(tokens[d], { count: 1, logProb: logProbs[d] });
      }
      // Branches copy the state before this step; the first group continues in `leaf` itself.
      const before = { ...leaf, tokens: [...leaf.tokens] };
      let first = true;
      for (const [token, g] of groups) {
        const child: TreeLeaf = first ? leaf : { ...before, tokens: [...before.tokens], seq: -1 };
        child.count = g.count;
        if (engine.isEndOfGeneration(token)) {
          child.stop = "eog";
        } else {
          if (!first) {
            child.seq = pool.acquire();
            engine.fork(before.seq, child.seq);
          }
          child.tokens.push(token);
          child.sumLogProb += g.logProb;
          extending.push(child);
        }
        if (!first) leaves.push(child);
        first = false;
      }
    }
    if (extending.length === 0) break;
    engine.step(
      Int32Array.from(extending, (l) => l.tokens[l.tokens.length - 1]),
      Int32Array.from(extending, (l) => l.pos),
      Int32Array.from(extending, (l) => l.seq),
    );
    extending.forEach((l, i) => {
      l.row = i;
      l.pos++;
      if (written[l.root] + l.tokens.length >= o.maxTokens) l.stop = "max-tokens";
    });
  }
  return leaves;
}
