// Logistic regression, the one fit the project trains with (the latent probe, the reward head),
// and the one logistic function (probabilities from logits: probes, classifiers, critics).
import { mulberry32, shuffle } from "./random.js";

/** Logistic function, stable for large |x|. */
export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** A fitted logistic regression on standardised features: P = sigmoid(w . (x - mean) / std + b). */
export interface LogisticModel {
  mean: Float64Array;
  std: Float64Array;
  w: Float64Array;
  b: number;
}

export interface FitOptions {
  epochs: number;
  learningRate: number;
  l2: number;
  batchSize: number;
}

/**
 * Fits P(y = 1 | x) on `rows` of X (row-major, d columns): mean log-loss + l2/2 |w|^2, mini-batch
 * Adam, rows shuffled each epoch by a generator seeded with `seed`. Standardisation statistics
 * come from the same rows; a constant feature gets std 1 (its weight stays 0 under L2).
 */
export function fitLogistic(
  X: Float32Array,
  d: number,
  y: Uint8Array,
  rows: readonly number[],
  o: FitOptions,
  seed: number,
  onEpoch?: () => void,
): LogisticModel {
  const n = rows.length;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] += X[r * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  for (const r of rows) for (let j = 0; j < d; j++) std[j] += (X[r * d + j] - mean[j]) ** 2;
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(std[j] / n);
    std[j] = s > 1e-6 ? s : 1;
  }
  // Standardised copy of the rows, contiguous (the inner loops stream through it).
  const Z = new Float32Array(n * d);
  rows.forEach((r, i) => {
    for (let j = 0; j < d; j++) Z[i * d + j] = (X[r * d + j] - mean[j]) / std[j];
  });
  const labels = Float64Array.from(rows, (r) => y[r]);

  const w = new Float64Array(d);
  let b = 0;
  const mW = new Float64Array(d);
  const vW = new Float64Array(d);
  let mB = 0;
  let vB = 0;
  const gW = new Float64Array(d);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  const rng = mulberry32(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  let t = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    shuffle(order, rng);
    for (let start = 0; start < n; start += o.batchSize) {
      const end = Math.min(n, start + o.batchSize);
      const m = end - start;
      gW.fill(0);
      let gB = 0;
      for (let k = start; k < end; k++) {
        const i = order[k];
        const zRow = i * d;
        let z = b;
        for (let j = 0; j < d; j++) z += w[j] * Z[zRow + j];
        const err = sigmoid(z) - labels[i];
        for (let j = 0; j < d; j++) gW[j] += err * Z[zRow + j];
        gB += err;
      }
      t++;
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      for (let j = 0; j < d; j++) {
        const g = gW[j] / m + o.l2 * w[j];
        mW[j] = beta1 * mW[j] + (1 - beta1) * g;
        vW[j] = beta2 * vW[j] + (1 - beta2) * g * g;
        w[j] -= (o.learningRate * (mW[j] / c1)) / (Math.sqrt(vW[j] / c2) + eps);
      }
      const g = gB / m;
      mB = beta1 * mB + (1 - beta1) * g;
      vB = beta2 * vB + (1 - beta2) * g * g;
      b -= (o.learningRate * (mB / c1)) / (Math.sqrt(vB / c2) + eps);
    }
    onEpoch?.();
  }
  return { mean, std, w, b };
}
