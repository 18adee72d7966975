// The native CriticNet kernel against the float64 TypeScript reference.
import { describe, expect, test } from "@jest/globals";
import { Critic, randomCriticSpec, seededRandom } from "../../src/critic/critic.js";
import { CRITIC_ACTIVATIONS, type CriticActivation, type CriticSpec } from "../../src/critic/format.js";
import { referenceForward } from "../../src/critic/reference.js";
import { nativeAddon } from "../../src/native.js";

const TOL = 1e-5;

function uniform(n: number, seed: number, lo: number, hi: number): Float32Array {
  const rand = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}

/** Hidden states with per-feature offsets and scales, and the matching normalisation vectors. */
function skewedInputs(nEmbd: number, rows: number, seed: number) {
  const mean = uniform(nEmbd + 1, seed, -4, 4);
  const std = uniform(nEmbd + 1, seed + 1, 0.05, 8);
  const unit = uniform(rows * (nEmbd + 1), seed + 2, -1.7, 1.7);
  const hidden = new Float32Array(rows * nEmbd);
  const z = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < nEmbd; i++) hidden[r * nEmbd + i] = mean[i] + std[i] * unit[r * (nEmbd + 1) + i];
    z[r] = mean[nEmbd] + std[nEmbd] * unit[r * (nEmbd + 1) + nEmbd];
  }
  return { hidden, z, mean, std };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function compare(spec: CriticSpec, hidden: Float32Array, z: Float32Array, rows: number) {
  const critic = Critic.fromSpec(spec);
  const got = critic.evaluate(hidden, z, rows);
  const want = referenceForward(spec, hidden, z, rows);
  expect(got.safety.length).toBe(rows);
  expect(got.value.length).toBe(rows);
  for (let r = 0; r < rows; r++) {
    expect(Number.isFinite(got.safety[r]) && Number.isFinite(got.value[r])).toBe(true);
  }
  return { safety: maxAbsDiff(got.safety, want.safety), value: maxAbsDiff(got.value, want.value), want, got };
}

describe("CriticNet matches the TypeScript reference", () => {
  const cases: Array<{ nEmbd: number; hidden: number[]; rows: number[] }> = [
    { nEmbd: 64, hidden: [64, 64], rows: [1, 2, 5, 6, 7, 24, 25, 257] },
    { nEmbd: 2048, hidden: [64, 64], rows: [1, 3, 31, 257] },
  ];
  for (const activation of CRITIC_ACTIVATIONS) {
    for (const { nEmbd, hidden, rows } of cases) {
      for (const normalized of [false, true]) {
        test(`${activation}, nEmbd ${nEmbd}, hidden ${hidden.join("x")}, ${normalized ? "with" : "without"} normalization`, () => {
          const maxRows = Math.max(...rows);
          const inputs = normalized
            ? skewedInputs(nEmbd, maxRows, 11)
            : { hidden: uniform(maxRows * nEmbd, 12, -2, 2), z: uniform(maxRows, 13, 0, 1), mean: undefined, std: undefined };
          const spec = randomCriticSpec({
            nEmbd,
            hidden,
            activation,
            seed: nEmbd + hidden.length,
            biasScale: 0.5,
            ...(normalized ? { normalization: { mean: inputs.mean!, std: inputs.std! } } : {}),
          });
          for (const n of rows) {
            const d = compare(spec, inputs.hidden, inputs.z, n);
            expect(d.safety).toBeLessThanOrEqual(TOL);
            expect(d.value).toBeLessThanOrEqual(TOL);
          }
        });
      }
    }
  }

  test.each([
    { hidden: [] as number[], label: "no hidden layer (linear critic)" },
    { hidden: [13], label: "one odd-width layer (padded panels)" },
    { hidden: [9, 17, 5], label: "three odd-width layers" },
    { hidden: [200], label: "a layer wider than one depth slice feeds the head" },
  ])("$label", ({ hidden }) => {
    for (const activation of ["gelu", "relu"] as CriticActivation[]) {
      // nEmbd 300 + 1 crosses the 256-input depth-slice boundary of the first layer.
      const spec = randomCriticSpec({ nEmbd: 300, hidden, activation, seed: 5, biasScale: 0.3 });
      const hs = uniform(40 * 300, 6, -1, 1);
      const z = uniform(40, 7, 0, 1);
      for (const rows of [1, 4, 40]) {
        const d = compare(spec, hs, z, rows);
        expect(d.safety).toBeLessThanOrEqual(TOL);
        expect(d.value).toBeLessThanOrEqual(TOL);
      }
    }
  });

  test("large pre-activations saturate without NaN or Inf", () => {
    for (const activation of CRITIC_ACTIVATIONS) {
      const spec = randomCriticSpec({ nEmbd: 64, hidden: [32], activation, seed: 9 });
      // Scale the first layer up so pre-activations reach the hundreds.
      for (let i = 0; i < 65 * 32; i++) spec.weights[i] *= 60;
      const hs = uniform(50 * 64, 10, -3, 3);
      const z = uniform(50, 11, 0, 1);
      const d = compare(spec, hs, z, 50);
      const scale = Math.max(1, ...Array.from(d.want.value, Math.abs));
      expect(d.value / scale).toBeLessThanOrEqual(TOL);
      expect(d.safety).toBeLessThanOrEqual(TOL);
    }
  });

  test("the value head is linear and safety is a probability", () => {
    const spec = randomCriticSpec({ nEmbd: 64, hidden: [64, 64], activation: "silu", seed: 3, biasScale: 1 });
    const hs = uniform(100 * 64, 4, -3, 3);
    const z = uniform(100, 5, 0, 1);
    const { safety, value } = Critic.fromSpec(spec).evaluate(hs, z, 100);
    for (let r = 0; r < 100; r++) {
      expect(safety[r]).toBeGreaterThanOrEqual(0);
      expect(safety[r]).toBeLessThanOrEqual(1);
    }
    // Distinct inputs give distinct outputs (the kernel is not returning a constant).
    expect(new Set(Array.from(value)).size).toBeGreaterThan(90);
  });

  test("a row's result does not depend on the batch it is in (bit-exact)", () => {
    const nEmbd = 2048;
    const spec = randomCriticSpec({ nEmbd, hidden: [64, 64], activation: "gelu", seed: 21, biasScale: 0.2 });
    const critic = Critic.fromSpec(spec);
    const rows = 257;
    const hs = uniform(rows * nEmbd, 22, -2, 2);
    const z = uniform(rows, 23, 0, 1);
    const all = critic.evaluate(hs, z, rows);
    const batchSafety = Float32Array.from(all.safety);
    const batchValue = Float32Array.from(all.value);
    for (const r of [0, 5, 6, 23, 24, 100, 256]) {
      const one = critic.evaluate(hs.subarray(r * nEmbd, (r + 1) * nEmbd), z.subarray(r, r + 1), 1);
      expect(one.safety[0]).toBe(batchSafety[r]);
      expect(one.value[0]).toBe(batchValue[r]);
    }
  });

  test("evaluate reuses its buffers and returns views of the requested length", () => {
    const spec = randomCriticSpec({ nEmbd: 64, hidden: [16], activation: "tanh", seed: 1 });
    const critic = Critic.fromSpec(spec);
    const hs = uniform(10 * 64, 2, -1, 1);
    const z = uniform(10, 3, 0, 1);
    const a = critic.evaluate(hs, z, 10);
    expect(a.safety.length).toBe(10);
    const firstValue = a.value[0];
    const b = critic.evaluate(hs, z, 3);
    expect(b.safety.length).toBe(3);
    expect(b.value.buffer).toBe(a.value.buffer); // no new allocation for a smaller batch
    expect(b.value[0]).toBe(firstValue);
    const outS = new Float32Array(10);
    const outV = new Float32Array(10);
    critic.evaluateInto(hs, z, 10, outS, outV);
    expect(outV[0]).toBe(firstValue);
    expect(critic.evaluate(hs, z, 0).safety.length).toBe(0);
  });
});

/**
 * Errors thrown by the addon come from the main realm, not jest's test realm, so `toThrow(TypeError)`
 * cannot match them by class: compare the error's name instead.
 */
function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to throw");
}

function expectError(fn: () => unknown, name: "TypeError" | "RangeError", message?: RegExp): void {
  const error = thrownBy(fn);
  expect(error.name).toBe(name);
  if (message) expect(error.message).toMatch(message);
}

describe("CriticNet argument checks", () => {
  const spec = randomCriticSpec({ nEmbd: 64, hidden: [16], activation: "relu", seed: 1 });
  const CriticNet = nativeAddon().CriticNet as new (options: object) => {
    forward(...args: unknown[]): void;
  };
  const net = new CriticNet({ inputDim: 65, hidden: [16], activation: "relu", weights: spec.weights });
  const rows = 4;
  const hs = new Float32Array(rows * 64);
  const z = new Float32Array(rows);
  const s = new Float32Array(rows);
  const v = new Float32Array(rows);

  test("valid call works and longer arrays are accepted", () => {
    expect(() => net.forward(hs, z, rows, s, v)).not.toThrow();
    expect(() => net.forward(new Float32Array(100 * 64), new Float32Array(100), rows, new Float32Array(9), new Float32Array(9))).not.toThrow();
  });

  test("too-short arrays throw RangeError naming the argument", () => {
    expectError(() => net.forward(new Float32Array(rows * 64 - 1), z, rows, s, v), "RangeError", /hidden has 255 floats, needs at least 256/);
    expect(() => net.forward(hs, new Float32Array(rows - 1), rows, s, v)).toThrow(/z has 3 floats/);
    expect(() => net.forward(hs, z, rows, new Float32Array(rows - 1), v)).toThrow(/outSafety has 3 floats/);
    expect(() => net.forward(hs, z, rows, s, new Float32Array(rows - 1))).toThrow(/outValue has 3 floats/);
    expectError(() => net.forward(hs, z, rows + 1, s, v), "RangeError");
  });

  test("wrong types and bad row counts throw", () => {
    expectError(() => net.forward(new Float64Array(rows * 64), z, rows, s, v), "TypeError", /hidden must be a Float32Array/);
    expect(() => net.forward([0, 1], z, rows, s, v)).toThrow(/hidden must be a Float32Array/);
    expect(() => net.forward(hs, z, -1, s, v)).toThrow(/rows must be a non-negative integer/);
    expect(() => net.forward(hs, z, 1.5, s, v)).toThrow(/rows must be a non-negative integer/);
    expectError(() => net.forward(hs, z, "4", s, v), "TypeError", /rows must be a number/);
    expect(() => net.forward(hs, z, rows, s)).toThrow(/expected 5 arguments/);
  });

  test("aliased outputs are refused", () => {
    expect(() => net.forward(hs, z, rows, s, s)).toThrow(/must not overlap/);
    expect(() => net.forward(hs, z, rows, z, v)).toThrow(/must not overlap/);
  });

  test("constructor validates its options", () => {
    const base = { inputDim: 65, hidden: [16], activation: "relu", weights: spec.weights };
    expect(() => new CriticNet({ ...base, weights: spec.weights.subarray(1) })).toThrow(/weights has \d+ floats, the layer sizes need \d+/);
    expectError(() => new CriticNet({ ...base, hidden: [17] }), "RangeError", /the layer sizes need/);
    expect(() => new CriticNet({ ...base, activation: "swish" })).toThrow(/unknown activation "swish"/);
    expect(() => new CriticNet({ ...base, inputDim: 1 })).toThrow(/inputDim/);
    expect(() => new CriticNet({ ...base, hidden: [0] })).toThrow(/hidden\[0\]/);
    expect(() => new CriticNet({ ...base, mean: new Float32Array(65) })).toThrow(/mean and std must be given together/);
    expect(() => new CriticNet({ ...base, mean: new Float32Array(65), std: new Float32Array(64).fill(1) })).toThrow(/inputDim \(65\)/);
    expect(() => new CriticNet({ ...base, mean: new Float32Array(65), std: new Float32Array(65) })).toThrow(/std\[0\] must be positive/);
    expect(() => new CriticNet({ ...base, weights: Array.from(spec.weights) })).toThrow(/weights must be a Float32Array/);
    expect(() => new CriticNet({ ...base, maxBatch: 0 })).toThrow(/maxBatch/);
    expect(() => new CriticNet({ ...base, maxBatch: 512 })).not.toThrow();
  });

  test("weights are copied at construction", () => {
    const weights = Float32Array.from(spec.weights);
    const owned = new CriticNet({ inputDim: 65, hidden: [16], activation: "relu", weights });
    const hs2 = uniform(rows * 64, 1, -1, 1);
    const before = new Float32Array(rows);
    owned.forward(hs2, z, rows, new Float32Array(rows), before);
    weights.fill(0);
    const after = new Float32Array(rows);
    owned.forward(hs2, z, rows, new Float32Array(rows), after);
    expect(Array.from(after)).toEqual(Array.from(before));
  });
});
