// Plain TypeScript forward pass of the critic, in float64. It defines what the native kernel
// (native/critic/critic.cpp, float32 with fast exp) must compute; tests compare the two.
import { sigmoid } from "../util/logistic.js";
import { type CriticActivation, type CriticSpec, criticLayers } from "./format.js";


/** The hidden-layer activations; "gelu" is the tanh approximation. */
export function activate(activation: CriticActivation, x: number): number {
  switch (activation) {
    case "relu":
      return x > 0 ? x : 0;
    case "tanh":
      return Math.tanh(x);
    case "gelu":
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    case "silu":
      return x / (1 + Math.exp(-x));
  }
}

export interface ReferenceOutput {
  /** Raw output[0] per row. */
  logit: Float64Array;
  /** sigmoid(logit): probability that the budget holds at the end. */
  safety: Float64Array;
  /** output[1] per row: the task value. */
  value: Float64Array;
}

/**
 * Forward pass for `rows` rows: hidden is rows x nEmbd (row-major), z has one value per row.
 * Row input x = [h, z], normalised as (x - mean) / std when the critic has normalisation.
 */
export function referenceForward(
  spec: CriticSpec,
  hidden: ArrayLike<number>,
  z: ArrayLike<number>,
  rows: number,
): ReferenceOutput {
  const nEmbd = spec.header.hiddenDim;
  if (hidden.length < rows * nEmbd || z.length < rows) {
    throw new RangeError(`referenceForward: need ${rows * nEmbd} hidden values and ${rows} z values`);
  }
  const layers = criticLayers(spec);
  const out: ReferenceOutput = { logit: new Float64Array(rows), safety: new Float64Array(rows), value: new Float64Array(rows) };
  for (let r = 0; r < rows; r++) {
    let x = new Float64Array(nEmbd + 1);
    for (let i = 0; i < nEmbd; i++) x[i] = hidden[r * nEmbd + i];
    x[nEmbd] = z[r];
    if (spec.mean && spec.std) {
      for (let i = 0; i <= nEmbd; i++) x[i] = (x[i] - spec.mean[i]) / spec.std[i];
    }
    layers.forEach((layer, l) => {
      const y = new Float64Array(layer.out);
      for (let o = 0; o < layer.out; o++) {
        let acc = 0;
        const row = o * layer.in;
        for (let i = 0; i < layer.in; i++) acc += layer.W[row + i] * x[i];
        y[o] = acc + layer.b[o];
      }
      // Hidden layers get the activation; the head is linear.
      if (l + 1 < layers.length) for (let o = 0; o < layer.out; o++) y[o] = activate(spec.header.activation, y[o]);
      x = y;
    });
    out.logit[r] = x[0];
    out.safety[r] = sigmoid(x[0]);
    out.value[r] = x[1];
  }
  return out;
}
