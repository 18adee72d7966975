// Typed access to the native critic trainer (native/trainer.cpp).
import type { CriticActivation } from "../critic/format.js";
import { nativeAddon } from "../native.js";

export interface CriticTrainerOptions {
  inputDim: number;
  hidden: number[];
  activation: CriticActivation;
  /** Initial weights in the critic file's order (copied). */
  weights: Float32Array;
  /** Input normalisation, inputDim floats each (stored in the critic file). */
  mean: Float32Array;
  std: Float32Array;
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled (AdamW) weight decay on the W matrices; biases are not decayed. */
  weightDecay?: number;
  /** Weights of the two loss terms: BCE of the safety head, squared error of the value head. */
  safetyWeight?: number;
  valueWeight?: number;
  /** Largest minibatch (buffers are sized for it once). Default 1024. */
  maxBatch?: number;
}

export interface TrainerLoss {
  /** safetyWeight * safetyLoss + valueWeight * valueLoss. */
  loss: number;
  /** Mean binary cross-entropy of the safety head. */
  safetyLoss: number;
  /** Mean squared error of the value head. */
  valueLoss: number;
}

export interface AdamState {
  m: Float32Array;
  v: Float32Array;
  step: number;
}

export interface NativeCriticTrainer {
  /** One pass over the rows in minibatches, shuffled by the 64-bit seed (seedHi, seedLo). Returns the mean loss before each update. */
  trainEpoch(hidden: Float32Array, z: Float32Array, ySafe: Float32Array, yValue: Float32Array, rows: number, batchSize: number, seedHi: number, seedLo: number): TrainerLoss;
  /** Forward only: the safety logits and values of every row, and the mean loss. */
  evaluate(hidden: Float32Array, z: Float32Array, ySafe: Float32Array, yValue: Float32Array, rows: number, outLogit: Float32Array, outValue: Float32Array): TrainerLoss;
  /** Gradient of the mean loss over the rows (one batch, rows <= maxBatch), no update. */
  gradient(hidden: Float32Array, z: Float32Array, ySafe: Float32Array, yValue: Float32Array, rows: number, outGrad: Float32Array): TrainerLoss;
  getWeights(): Float32Array;
  setWeights(weights: Float32Array): void;
  getAdamState(): AdamState;
  setAdamState(state: AdamState): void;
}

export function createCriticTrainer(options: CriticTrainerOptions): NativeCriticTrainer {
  const ctor = nativeAddon().CriticTrainer as (new (o: CriticTrainerOptions) => NativeCriticTrainer) | undefined;
  if (typeof ctor !== "function") throw new Error("the native addon has no CriticTrainer (stale build?): run `npm run build:native`");
  return new ctor(options);
}

/** A 64-bit seed as the two 32-bit halves the native calls take. */
export function seedHalves(seed: bigint): { hi: number; lo: number } {
  const s = BigInt.asUintN(64, seed);
  return { hi: Number(s >> 32n), lo: Number(s & 0xffffffffn) };
}
