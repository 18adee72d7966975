// Pure pieces of the search: safety state, penalties, seeds, option validation.
import { UserError } from "../../src/errors.js";
import { guardOptionsSchema, parseOptions } from "../../src/search/options.js";
import { accumulatePenalty, packBias } from "../../src/search/penalty.js";
import { INITIAL_SAFETY_STATE, isOverBudget, safetyStateAfter } from "../../src/search/safetyState.js";
import { deriveSeed } from "../../src/search/seed.js";

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
