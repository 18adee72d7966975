// Sampling many draws from a few starting points as a prefix tree (the guard's blocks, the
// baselines' candidates): each root draws its share of the draws, and draws that picked the same
// tokens so far share one KV sequence (and one row per decode) until they diverge. The draws are
// the same independent samples that separate sequences would make; only duplicated decoding is
// skipped, and identical continuations come out once, with the number of draws that produced them.
import type { Decoder } from "../engine/decoder.js";
import type { SampleParams } from "../native.js";
import { yieldToEventLoop } from "../util/yield.js";
import { packBias, type TokenPenalty } from "./penalty.js";
import type { SequencePool } from "../engine/sequencePool.js";
import type { StopReason } from "./types.js";

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
  /** Log-probability summed before the root; its leaves' sums continue it, in token order (default 0). */
  sumLogProb?: number;
  /** Logit bias of this root's draws. */
  bias?: TokenPenalty;
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
  /**
   * Why it stopped before `width` tokens, or null when it is still open. "over-budget": `doomed`
   * said so after its last token, which was then never decoded (its sequence and row lack it).
   */
  stop: StopReason | "over-budget" | null;
  /** With captureHidden: the hidden state of its last token, copied while its row was valid. */
  hidden?: Float32Array;
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
  /** Fill every leaf's `hidden` (a leaf's row is overwritten by the next decode, so it is copied when the leaf stops). */
  captureHidden?: boolean;
  /**
   * Asked after each sampled token, before it is decoded: true stops the leaf there (stop
   * "over-budget"), so a candidate certain to end its block over budget costs no more decodes.
   */
  doomed?: (root: number, tokens: readonly number[]) => boolean;
}

/** A leaf's stop as an answer's: callers that pass no `doomed` hook never see "over-budget". */
export function answerStop(stop: TreeLeaf["stop"]): StopReason | null {
  if (stop === "over-budget") throw new Error("a tree leaf stopped over budget without a doomed hook");
  return stop;
}

/** Steps between yields to the event loop, so aborts and timers get a turn. */
const YIELD_EVERY_STEPS = 8;

/**
 * Samples up to `width` tokens for every draw of every root. Roots keep their own sequences (each
 * grows in a fork); leaves own the sequences they return (release them with the pool).
 */
export async function growTree(engine: Decoder, pool: SequencePool, roots: readonly TreeRoot[], o: GrowOptions): Promise<TreeLeaf[]> {
  const leaves: TreeLeaf[] = [];
  const written = roots.map((r) => r.written);
  const capture = (stopped: TreeLeaf[]) => {
    if (!o.captureHidden || stopped.length === 0) return;
    const n = engine.info.nEmbd;
    const states = engine.hidden(Int32Array.from(stopped, (l) => l.row));
    stopped.forEach((l, i) => (l.hidden = states.subarray(i * n, (i + 1) * n)));
  };
  roots.forEach((r, i) => {
    if (r.draws === 0) return;
    const seq = pool.acquire();
    engine.fork(r.seq, seq);
    leaves.push({ root: i, seq, count: r.draws, tokens: [], sumLogProb: r.sumLogProb ?? 0, pos: r.pos, row: r.row, stop: null });
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
    const bias = packBias(owners.map((l) => roots[l.root].bias));
    const { tokens, logProbs } = engine.sample(Int32Array.from(owners, (l) => l.row), o.params, o.seedAt(w), bias);
    const extending: TreeLeaf[] = [];
    const endedNow: TreeLeaf[] = [];
    const doomedNow: TreeLeaf[] = [];
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
          endedNow.push(child);
        } else {
          child.tokens.push(token);
          child.sumLogProb += g.logProb;
          if (o.doomed?.(child.root, child.tokens)) {
            child.stop = "over-budget";
            doomedNow.push(child); // a branch keeps seq -1: it never needs a sequence of its own
          } else {
            if (!first) {
              child.seq = pool.acquire();
              engine.fork(before.seq, child.seq);
            }
            extending.push(child);
          }
        }
        if (!first) leaves.push(child);
        first = false;
      }
    }
    // Their last row is still the current decode's (a doomed leaf's: that of the token before its last).
    capture([...endedNow, ...doomedNow]);
    if (extending.length === 0) break;
    await engine.step(
      Int32Array.from(extending, (l) => l.tokens[l.tokens.length - 1]),
      Int32Array.from(extending, (l) => l.pos),
      Int32Array.from(extending, (l) => l.seq),
    );
    const reachedMax: TreeLeaf[] = [];
    extending.forEach((l, i) => {
      l.row = i;
      l.pos++;
      if (written[l.root] + l.tokens.length >= o.maxTokens) {
        l.stop = "max-tokens";
        reachedMax.push(l);
      }
    });
    capture(reachedMax);
  }
  capture(leaves.filter((l) => l.hidden === undefined));
  return leaves;
}
