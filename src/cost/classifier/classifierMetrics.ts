// Metrics for a probabilistic binary classifier (ranking, accuracy, calibration), and Platt
// scaling. Labels are 0/1, scores are probabilities (or logits where noted).
import { sigmoid } from "../../util/logistic.js";
import { rocAuc } from "../../util/metrics.js";

export interface ReliabilityBin {
  /** Bin range [from, to) of predicted probability (the last bin includes 1). */
  from: number;
  to: number;
  count: number;
  meanPredicted: number;
  fractionUnsafe: number;
}

export interface BinaryMetrics {
  n: number;
  unsafe: number;
  rocAuc: number;
  /** Share of texts on the right side of 0.5. */
  accuracy: number;
  /** Mean squared error of the probability. */
  brier: number;
  /** Mean negative log-likelihood (probabilities clipped to [1e-7, 1 - 1e-7]). */
  logLoss: number;
  /** Expected calibration error over 10 equal-width bins. */
  ece: number;
  meanPredicted: number;
  reliability: ReliabilityBin[];
}

/** All metrics of probabilities `probs` against 0/1 `labels`. */
export function binaryMetrics(probs: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): BinaryMetrics {
  const n = probs.length;
  let unsafe = 0;
  let correct = 0;
  let brier = 0;
  let logLoss = 0;
  let sumP = 0;
  const binCount = new Array<number>(bins).fill(0);
  const binP = new Array<number>(bins).fill(0);
  const binY = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    const p = probs[i]!;
    const y = labels[i]!;
    unsafe += y;
    sumP += p;
    if ((p >= 0.5 ? 1 : 0) === y) correct++;
    brier += (p - y) ** 2;
    const q = Math.min(1 - 1e-7, Math.max(1e-7, p));
    logLoss -= y === 1 ? Math.log(q) : Math.log(1 - q);
    const b = Math.min(bins - 1, Math.floor(p * bins));
    binCount[b]!++;
    binP[b]! += p;
    binY[b]! += y;
  }
  let ece = 0;
  const reliability: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = binCount[b]!;
    if (c > 0) ece += (c / n) * Math.abs(binP[b]! / c - binY[b]! / c);
    reliability.push({
      from: round(b / bins),
      to: round((b + 1) / bins),
      count: c,
      meanPredicted: c > 0 ? round(binP[b]! / c) : 0,
      fractionUnsafe: c > 0 ? round(binY[b]! / c) : 0,
    });
  }
  return {
    n,
    unsafe,
    rocAuc: round(rocAuc(probs, labels)),
    accuracy: round(n > 0 ? correct / n : NaN),
    brier: round(n > 0 ? brier / n : NaN),
    logLoss: round(n > 0 ? logLoss / n : NaN),
    ece: round(n > 0 ? ece : NaN),
    meanPredicted: round(n > 0 ? sumP / n : NaN),
    reliability,
  };
}

/**
 * Platt scaling: the (scale, shift) minimising the weighted log-loss of sigmoid(scale * logit +
 * shift), fitted by Newton's method (a 2-parameter convex problem; a small ridge keeps it
 * well-posed when the classes separate).
 */
export function fitPlatt(logits: ArrayLike<number>, labels: ArrayLike<number>, weights?: ArrayLike<number>): { scale: number; shift: number } {
  const ridge = 1e-3;
  // Weighted log-loss (plus the ridge pulling towards the identity map a = 1, b = 0).
  const objective = (a: number, b: number): number => {
    let f = 0.5 * ridge * ((a - 1) ** 2 + b ** 2);
    for (let i = 0; i < logits.length; i++) {
      const z = a * logits[i]! + b;
      const w = weights ? weights[i]! : 1;
      // log(1 + e^z) - y z, stably.
      f += w * ((z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - labels[i]! * z);
    }
    return f;
  };
  let a = 1;
  let b = 0;
  let f = objective(a, b);
  for (let iter = 0; iter < 100; iter++) {
    let ga = ridge * (a - 1);
    let gb = ridge * b;
    let haa = ridge;
    let hab = 0;
    let hbb = ridge;
    for (let i = 0; i < logits.length; i++) {
      const x = logits[i]!;
      const w = weights ? weights[i]! : 1;
      const p = sigmoid(a * x + b);
      const r = w * (p - labels[i]!);
      ga += r * x;
      gb += r;
      const s = w * p * (1 - p);
      haa += s * x * x;
      hab += s * x;
      hbb += s;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    // Damped Newton: halve the step until the objective does not increase.
    let t = 1;
    let next = objective(a - da, b - db);
    while (!(next <= f) && t > 1e-6) {
      t /= 2;
      next = objective(a - t * da, b - t * db);
    }
    if (!(next <= f)) break;
    a -= t * da;
    b -= t * db;
    const improvement = f - next;
    f = next;
    if (improvement < 1e-10 * Math.max(1, Math.abs(f))) break;
  }
  return { scale: a, shift: b };
}


function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x;
}
