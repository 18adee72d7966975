// Pure pieces of the search: safety state, penalties, seeds, option validation.
import { UserError } from "../../src/errors.js";
import { guardOptionsSchema, parseOptions } from "../../src/search/options.js";
import { accumulatePenalty, packBias } from "../../src/search/penalty.js";
import { INITIAL_SAFETY_STATE, isOverBudget, safetyStateAfter } from "../../src/search/safetyState.js";
import { deriveSeed } from "../../src/search/seed.js";
import { DEFAULT_END_POLICY, EndWatch } from "../../src/search/endPolicy.js";
import type { Candidate, Hypothesis } from "../../src/search/searchState.js";
import type { StopReason } from "../../src/search/types.js";

describe("safety state (Sauté): z0 = 1, z = 1 - cost/d", () => {
  test("starts at 1 and falls by c/d per step", () => {
    expect(INITIAL_SAFETY_STATE).toBe(1);
    expect(safetyStateAfter(0, 2)).toBe(1);
    expect(safetyStateAfter(1, 2)).toBe(0.5);
    expect(safetyStateAfter(3, 2)).toBe(-0.5);
  });
  test("a candidate is unsafe exactly when its cumulative cost exceeds d", () => {
    expect(isOverBudget(1, 1)).toBe(false);
    expect(isOverBudget(1.0001, 1)).toBe(true);
    expect(isOverBudget(0.1 + 0.2, 0.3)).toBe(false); // float drift does not flip a verdict
    expect(isOverBudget(0.5, 0.49)).toBe(true);
    // z < 0 iff over budget
    for (const [c, d] of [[0, 1], [0.5, 1], [2, 1], [3, 3], [3.5, 3]]) {
      expect(safetyStateAfter(c, d) < 0).toBe(isOverBudget(c, d));
    }
  });
});

describe("logit penalties for resampling", () => {
  test("weights tokens by the share of unsafe blocks that used them", () => {
    const penalty = new Map<number, number>();
    accumulatePenalty(penalty, [[1, 2, 2], [2, 3], [2, 4]], 6);
    expect(penalty.get(2)).toBeCloseTo(-6); // in all three blocks (counted once per block)
    expect(penalty.get(1)).toBeCloseTo(-2);
    expect(penalty.get(3)).toBeCloseTo(-2);
    expect(penalty.has(5)).toBe(false);
    accumulatePenalty(penalty, [[1]], 6); // rounds accumulate
    expect(penalty.get(1)).toBeCloseTo(-8);
  });
  test("packs per-row maps into CSR, or nothing when all are empty", () => {
    expect(packBias([undefined, new Map()])).toBeUndefined();
    const bias = packBias([new Map([[7, -1]]), undefined, new Map([[3, -2], [4, -3]])])!;
    expect(Array.from(bias.rowPtr)).toEqual([0, 1, 1, 3]);
    expect(Array.from(bias.tokens)).toEqual([7, 3, 4]);
    expect(Array.from(bias.values)).toEqual([-1, -2, -3]);
  });
});

describe("seeds", () => {
  test("are a pure function of their inputs", () => {
    expect(deriveSeed(1, 2, 3)).toBe(deriveSeed(1, 2, 3));
    const seen = new Set([deriveSeed(1, 2, 3), deriveSeed(1, 3, 2), deriveSeed(2, 2, 3), deriveSeed(1, 2, 3, 0)]);
    expect(seen.size).toBe(4);
  });
});

describe("guard options", () => {
  test("defaults are filled in", () => {
    const o = parseOptions(guardOptionsSchema, {}, "guard options");
    expect(o).toMatchObject({ budget: 1, beams: 4, samples: 8, width: 8, maxResamples: 2, onUnsafe: "truncate" });
  });
  test.each([
    [{ budget: 0 }, /budget must be > 0/],
    [{ budget: -1 }, /budget/],
    [{ beams: 0 }, /beams/],
    [{ beams: 8, samples: 4 }, /samples \(N\) must be >= beams/],
    [{ width: 1.5 }, /width/],
    [{ nonsense: 1 }, /nonsense|unrecognized/i],
  ])("%j is refused with a UserError", (input, message) => {
    expect(() => parseOptions(guardOptionsSchema, input, "guard options")).toThrow(UserError);
    expect(() => parseOptions(guardOptionsSchema, input, "guard options")).toThrow(message);
  });
});

describe("the early stop (endPolicy.ts)", () => {
  // Just what EndWatch reads: a candidate's `done`, a hypothesis's score and tokens.
  const cand = (done: StopReason | null) => ({ done }) as Candidate;
  const hyp = (tokens: number, score: number) => ({ tokens: new Array<number>(tokens).fill(0), score }) as Hypothesis;
  const live = (tokens: number) => [hyp(tokens, 1), hyp(tokens - 3, 0.5)];
  const liveFirst = [cand(null), cand("eog")];

  test("nothing stops before an answer has ended, nor when no beam is left", () => {
    const w = new EndWatch({ rankedFirst: true, patienceBlocks: 0, lengthRatio: 0 });
    expect(w.decided(0, liveFirst, [], live(8))).toBe(false);
    expect(w.decided(1, [cand("eog")], [hyp(8, 1)], [])).toBe(false);
  });

  test("rankedFirst: an ended answer ranked above every live beam stops the search at once", () => {
    const w = new EndWatch({ rankedFirst: true, patienceBlocks: 100, lengthRatio: 100 });
    expect(w.decided(0, liveFirst, [hyp(8, 0)], live(8))).toBe(false);
    expect(w.decided(1, [cand("eog"), cand(null)], [hyp(8, 0), hyp(16, 2)], live(16))).toBe(true);
    const off = new EndWatch({ rankedFirst: false, patienceBlocks: 100, lengthRatio: 100 });
    expect(off.decided(1, [cand("eog"), cand(null)], [hyp(16, 2)], live(16))).toBe(false);
  });

  test("patience: live beams go on patienceBlocks blocks past the first ending, then while shorter than lengthRatio x the best ended answer", () => {
    // A 10-token answer ends at block 1 with the beams at 16 tokens: they go on to 4 x 10 = 40.
    const w = new EndWatch({ rankedFirst: false, patienceBlocks: 2, lengthRatio: 4 });
    expect(w.decided(1, liveFirst, [hyp(10, 0)], live(16))).toBe(false);
    expect(w.decided(2, liveFirst, [hyp(10, 0)], live(24))).toBe(false);
    expect(w.decided(3, liveFirst, [hyp(10, 0)], live(32))).toBe(false); // patience spent, 32 < 40
    expect(w.decided(4, liveFirst, [hyp(10, 0)], live(40))).toBe(true);
    // A 2-token answer: 16 >= 4 x 2 at once, but the beams still get their 2 blocks of patience.
    const v = new EndWatch({ rankedFirst: false, patienceBlocks: 2, lengthRatio: 4 });
    expect(v.decided(1, liveFirst, [hyp(2, 0)], live(16))).toBe(false);
    expect(v.decided(2, liveFirst, [hyp(2, 0)], live(24))).toBe(false);
    expect(v.decided(3, liveFirst, [hyp(2, 0)], live(32))).toBe(true);
  });

  test("the length that counts is the best-scored ended answer's (the one returned), against the deepest live beam", () => {
    const w = new EndWatch({ rankedFirst: false, patienceBlocks: 0, lengthRatio: 4 });
    // A short answer ended first, then a longer one that scores highest, and a longest one that
    // scores lowest: 4 x 10 = 40 tokens (neither the first's 12 nor the longest's 120).
    const ended = [hyp(3, -1), hyp(10, 0.5), hyp(2, 0.1), hyp(30, -2)];
    expect(w.decided(0, liveFirst, [hyp(3, -1)], live(12))).toBe(true); // 12 >= 4 x 3
    const v = new EndWatch({ rankedFirst: false, patienceBlocks: 0, lengthRatio: 4 });
    expect(v.decided(4, liveFirst, ended, live(39))).toBe(false);
    expect(v.decided(5, liveFirst, ended, live(40))).toBe(true);
    // The deepest beam counts (branch auto may keep beams of unequal depth).
    const u = new EndWatch({ rankedFirst: false, patienceBlocks: 0, lengthRatio: 4 });
    expect(u.decided(5, liveFirst, ended, [hyp(20, 1), hyp(40, 0)])).toBe(true);
  });

  test("the default keeps beams going 8x the returned answer's length, and at least 4 blocks", () => {
    expect(DEFAULT_END_POLICY).toEqual({ rankedFirst: true, patienceBlocks: 4, lengthRatio: 8 });
  });
});
