// The native critic trainer: gradients against finite differences of a float64 reference loss,
// learning a separable set, determinism, Adam state and argument checks.
import { describe, expect, test } from "@jest/globals";
import { randomCriticSpec, seededRandom } from "../../src/critic/critic.js";
import { CRITIC_ACTIVATIONS, type CriticActivation, type CriticSpec } from "../../src/critic/format.js";
import { referenceForward } from "../../src/critic/reference.js";
import { createCriticTrainer, type CriticTrainerOptions } from "../../src/critic/criticTrainer.js";

function uniform(n: number, rand: () => number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

/** Mean loss in float64 through the reference forward: ws * BCE + wv * squared error. */
function referenceLoss(spec: CriticSpec, hidden: Float32Array, z: Float32Array, ySafe: Float32Array, yValue: Float32Array, rows: number, ws: number, wv: number): number {
  const out = referenceForward(spec, hidden, z, rows);
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const s = out.logit[r];
    const bce = Math.max(s, 0) - s * ySafe[r] + Math.log1p(Math.exp(-Math.abs(s)));
    sum += ws * bce + wv * (out.value[r] - yValue[r]) ** 2;
  }
  return sum / rows;
}

function tinyProblem(activation: CriticActivation, seed: number) {
  const rand = seededRandom(seed);
  const nEmbd = 4;
  const rows = 7;
  const mean = uniform(nEmbd + 1, rand, -0.5, 0.5);
  const std = uniform(nEmbd + 1, rand, 0.5, 2);
  const spec = randomCriticSpec({ nEmbd, hidden: [5, 3], activation, seed, biasScale: 0.3, normalization: { mean, std } });
  return {
    spec,
    rows,
    hidden: uniform(rows * nEmbd, rand, -2, 2),
    z: uniform(rows, rand, 0, 1),
    ySafe: Float32Array.from({ length: rows }, () => (rand() < 0.5 ? 1 : 0)),
    yValue: uniform(rows, rand, -3, 1),
    options: (extra: Partial<CriticTrainerOptions> = {}): CriticTrainerOptions => ({
      inputDim: nEmbd + 1, hidden: [5, 3], activation, weights: spec.weights, mean, std, lr: 1e-3, safetyWeight: 0.7, valueWeight: 0.3, maxBatch: 16, ...extra,
    }),
  };
}

describe("CriticTrainer gradient", () => {
  test.each(CRITIC_ACTIVATIONS.map((a) => [a]))("matches central finite differences of the reference loss (%s)", (activation) => {
    const p = tinyProblem(activation, 11);
    const trainer = createCriticTrainer(p.options());
    const grad = new Float32Array(p.spec.weights.length);
    const loss = trainer.gradient(p.hidden, p.z, p.ySafe, p.yValue, p.rows, grad);
    const at = (weights: Float64Array) => referenceLoss({ ...p.spec, weights: Float32Array.from(weights) }, p.hidden, p.z, p.ySafe, p.yValue, p.rows, 0.7, 0.3);
    const w = Float64Array.from(p.spec.weights);
    expect(loss.loss).toBeCloseTo(at(w), 5);

    const eps = 1e-3;
    let worst = 0;
    for (let i = 0; i < w.length; i++) {
      const plus = Float64Array.from(w);
      const minus = Float64Array.from(w);
      plus[i] += eps;
      minus[i] -= eps;
      // The perturbed weights are rounded to float32: divide by the step actually taken.
      const step = Math.fround(plus[i]) - Math.fround(minus[i]);
      const numeric = (at(plus) - at(minus)) / step;
      worst = Math.max(worst, Math.abs(grad[i] - numeric) / (1e-3 + Math.abs(numeric)));
    }
    expect(worst).toBeLessThan(2e-3);
    // Not vacuous: the gradient is far from zero.
    expect(Math.max(...Array.from(grad, Math.abs))).toBeGreaterThan(1e-2);
  });

  test("evaluate() gives the reference logits and values", () => {
    const p = tinyProblem("gelu", 5);
    const trainer = createCriticTrainer(p.options());
    const logit = new Float32Array(p.rows);
    const value = new Float32Array(p.rows);
    trainer.evaluate(p.hidden, p.z, p.ySafe, p.yValue, p.rows, logit, value);
    const ref = referenceForward(p.spec, p.hidden, p.z, p.rows);
    for (let r = 0; r < p.rows; r++) {
      expect(Math.abs(logit[r] - ref.logit[r])).toBeLessThan(1e-4);
      expect(Math.abs(value[r] - ref.value[r])).toBeLessThan(1e-4);
    }
  });
});

/** Rows whose label is a linear function of [h, z]: safe iff h0 - h1 + z > 0.5; value = 2 h2. */
function separable(rows: number, nEmbd: number, seed: number) {
  const rand = seededRandom(seed);
  const hidden = uniform(rows * nEmbd, rand);
  const z = uniform(rows, rand, 0, 1);
  const ySafe = new Float32Array(rows);
  const yValue = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    ySafe[r] = hidden[r * nEmbd] - hidden[r * nEmbd + 1] + z[r] > 0.5 ? 1 : 0;
    yValue[r] = 2 * hidden[r * nEmbd + 2];
  }
  return { hidden, z, ySafe, yValue, rows };
}

function trainerFor(nEmbd: number, seed: number, extra: Partial<CriticTrainerOptions> = {}) {
  const init = randomCriticSpec({ nEmbd, hidden: [16], activation: "tanh", seed });
  return createCriticTrainer({
    inputDim: nEmbd + 1, hidden: [16], activation: "tanh", weights: init.weights,
    mean: new Float32Array(nEmbd + 1), std: new Float32Array(nEmbd + 1).fill(1), lr: 1e-2, maxBatch: 64, ...extra,
  });
}

describe("CriticTrainer training", () => {
  test("the loss goes down on a small separable set and the heads learn it", () => {
    const nEmbd = 6;
    const d = separable(512, nEmbd, 3);
    const trainer = trainerFor(nEmbd, 1);
    const logit = new Float32Array(d.rows);
    const value = new Float32Array(d.rows);
    const before = trainer.evaluate(d.hidden, d.z, d.ySafe, d.yValue, d.rows, logit, value);
    let last = before;
    for (let epoch = 0; epoch < 40; epoch++) last = trainer.trainEpoch(d.hidden, d.z, d.ySafe, d.yValue, d.rows, 32, 0, epoch);
    const after = trainer.evaluate(d.hidden, d.z, d.ySafe, d.yValue, d.rows, logit, value);
    expect(after.loss).toBeLessThan(0.25 * before.loss);
    expect(after.safetyLoss).toBeLessThan(0.2);
    expect(after.valueLoss).toBeLessThan(0.02);
    expect(Math.abs(last.loss - after.loss)).toBeLessThan(0.1);
    let correct = 0;
    for (let r = 0; r < d.rows; r++) if ((logit[r] > 0 ? 1 : 0) === d.ySafe[r]) correct++;
    expect(correct / d.rows).toBeGreaterThan(0.95);
  });

  test("is deterministic in the shuffle seed, and the seed matters", () => {
    const nEmbd = 6;
    const d = separable(200, nEmbd, 4);
    const run = (seedLo: number) => {
      const t = trainerFor(nEmbd, 2, { weightDecay: 0.01 });
      for (let e = 0; e < 3; e++) t.trainEpoch(d.hidden, d.z, d.ySafe, d.yValue, d.rows, 16, 7, seedLo + e);
      return t.getWeights();
    };
    expect(Buffer.from(run(10).buffer).equals(Buffer.from(run(10).buffer))).toBe(true);
    expect(Buffer.from(run(10).buffer).equals(Buffer.from(run(20).buffer))).toBe(false);
  });

  test("weights and Adam state restored into a fresh trainer continue identically", () => {
    const nEmbd = 6;
    const d = separable(200, nEmbd, 5);
    const a = trainerFor(nEmbd, 3);
    a.trainEpoch(d.hidden, d.z, d.ySafe, d.yValue, d.rows, 16, 0, 1);
    const b = trainerFor(nEmbd, 99);
    b.setWeights(a.getWeights());
    b.setAdamState(a.getAdamState());
    expect(b.getAdamState().step).toBe(Math.ceil(200 / 16));
    a.trainEpoch(d.hidden, d.z, d.ySafe, d.yValue, d.rows, 16, 0, 2);
    b.trainEpoch(d.hidden, d.z, d.ySafe, d.yValue, d.rows, 16, 0, 2);
    expect(Buffer.from(a.getWeights().buffer).equals(Buffer.from(b.getWeights().buffer))).toBe(true);
  });

  // (Native errors come from the main realm, not jest's, so they are matched by message.)
  test("refuses bad arguments with one-line messages", () => {
    const nEmbd = 6;
    const d = separable(10, nEmbd, 6);
    const t = trainerFor(nEmbd, 4);
    expect(() => trainerFor(nEmbd, 4, { weights: new Float32Array(3) })).toThrow(/weights has 3 floats, the layer sizes need 162/);
    expect(() => trainerFor(nEmbd, 4, { activation: "swish" as CriticActivation })).toThrow(/activation/);
    expect(() => trainerFor(nEmbd, 4, { std: new Float32Array(nEmbd + 1) })).toThrow(/std/);
    expect(() => t.trainEpoch(d.hidden, d.z, d.ySafe, d.yValue, 11, 4, 0, 0)).toThrow(/hidden has 60 floats/);
    expect(() => t.trainEpoch(d.hidden, d.z, d.ySafe, d.yValue, 10, 65, 0, 0)).toThrow(/batchSize/);
    expect(() => t.trainEpoch(d.hidden, d.z, d.ySafe, d.yValue, 10, 4, -1, 0)).toThrow(/seedHi/);
    expect(() => t.trainEpoch(d.hidden, d.z, d.ySafe, new Int32Array(10) as unknown as Float32Array, 10, 4, 0, 0)).toThrow(/yValue must be a Float32Array/);
    expect(() => t.setWeights(Float32Array.of(NaN))).toThrow(/expected 162 floats/);
    const w = t.getWeights();
    w[5] = NaN;
    expect(() => t.setWeights(w)).toThrow(/not finite/);
    expect(() => t.setAdamState({ m: new Float32Array(1), v: new Float32Array(1), step: 0 })).toThrow(/m and v must have 162 floats/);
  });
});
