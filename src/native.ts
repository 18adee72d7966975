// Our C++ addon (build/Release/inference_guard.node): its loader and its whole TypeScript surface,
// one section per kernel file in native/. Imported by the modules that wrap a kernel: src/engine
// (BatchContext), src/search (SampleParams type only), src/critic (CriticNet, CriticTrainer) and
// the text classifier in src/cost (TextClassifier, ClassifierTrainer).
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "./errors.js";
import { PACKAGE_ROOT, prebuiltAddonPath } from "./paths.js";

// ---- native/engine/llama_engine.cpp, native/engine/sampling.cpp ----

export interface SampleParams {
  temperature: number;
  topK: number;
  topP: number;
}

export interface NativeBatchContextInfo {
  nVocab: number;
  nEmbd: number;
  nCtx: number;
  nSeqMax: number;
  nBatch: number;
  nCtxTrain: number;
  library: string;
}

export interface NativeBatchContextOptions {
  contextSize: number;
  batchSize: number;
  sequences: number;
  threads: number;
  flashAttention?: "auto" | "on" | "off";
  kvCacheType?: "f16" | "f32";
}

export interface NativeBatchContext {
  info(): NativeBatchContextInfo;
  decode(tokens: Int32Array, positions: Int32Array, seqIds: Int32Array, wantOutput: Uint8Array): void;
  readHidden(rows: Int32Array, out: Float32Array): void;
  readLogits(row: number, out: Float32Array): void;
  sample(
    rows: Int32Array,
    params: SampleParams,
    seedHi: number,
    seedLo: number,
    biasRowPtr: Int32Array | null,
    biasTokens: Int32Array | null,
    biasValues: Float32Array | null,
    outTokens: Int32Array,
    outLogProbs: Float32Array,
  ): void;
  seqCopy(src: number, dst: number): void;
  seqRemove(seq: number, p0: number, p1: number): boolean;
  clear(): void;
  dispose(): void;
}

// ---- native/critic/critic.cpp, native/critic/trainer.cpp ----

/** The activations the critic kernels implement (the critic file records one of them). */
export const CRITIC_ACTIVATIONS = ["relu", "tanh", "gelu", "silu"] as const;
export type CriticActivation = (typeof CRITIC_ACTIVATIONS)[number];

/** Options of the native constructor. `weights` is copied; the arrays may be reused afterwards. */
export interface NativeCriticNetOptions {
  inputDim: number;
  hidden: number[];
  activation: CriticActivation;
  weights: Float32Array;
  mean?: Float32Array;
  std?: Float32Array;
  /** Accepted for symmetry; the kernel works in fixed row blocks and never grows buffers. */
  maxBatch?: number;
}

export interface NativeCriticNet {
  readonly inputDim: number;
  /**
   * hidden: rows x nEmbd, z: rows, outputs: rows each (arrays may be longer). Throws RangeError
   * or TypeError on bad arguments.
   */
  forward(hidden: Float32Array, z: Float32Array, rows: number, outSafety: Float32Array, outValue: Float32Array): void;
}

export type NativeCriticNetConstructor = new (options: NativeCriticNetOptions) => NativeCriticNet;

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

// ---- native/classifier/classifier.cpp ----

/** How texts become hashed features; recorded in every classifier file. */
export interface FeatureSettings {
  /** Version of the extraction algorithm in native/classifier/classifier.cpp (bumped on any change). */
  featureVersion: number;
  /** log2 of the number of hash buckets. */
  bucketBits: number;
  /** 1: word unigrams; 2: + bigrams; 3: + trigrams. */
  wordNgrams: number;
  /** Character n-gram lengths within "<word>"; both 0 for none. */
  charMin: number;
  charMax: number;
  /** Value of a char n-gram occurrence (a word feature's is 1), > 0. */
  charWeight: number;
  /** Mixed into every hash. */
  hashSeed: number;
}

export interface NativeTextClassifier {
  /** P(unsafe) per text into outProb; outCount gets each text's feature occurrences (0: no word). */
  score(bytes: Uint8Array, offsets: Uint32Array, count: number, outProb: Float32Array, outCount?: Uint32Array | null): void;
}

export interface NativeClassifierTrainer {
  addExamples(bytes: Uint8Array, offsets: Uint32Array, count: number, labels: Float32Array, weights: Float32Array): number;
  run(batches: number): { loss: number; examples: number; epoch: number; batches: number };
  predict(bytes: Uint8Array, offsets: Uint32Array, count: number, outLogit: Float32Array): void;
  /** Copies the weights into out (buckets floats) and returns the bias. */
  weights(out: Float32Array): number;
  stats(): { examples: number; featureOccurrences: number; featureVersion: number };
}

// ---- the module (native/addon.cpp registers every kernel) ----

export interface NativeAddon {
  BatchContext: new (addonModel: object, options: NativeBatchContextOptions) => NativeBatchContext;
  sampleLogits(
    logits: Float32Array,
    params: SampleParams,
    seedHi: number,
    seedLo: number,
    row: number,
    biasTokens?: Int32Array | null,
    biasValues?: Float32Array | null,
  ): { token: number; baseLogProb: number };
  /** The node-llama-cpp version whose private headers the addon was compiled against (absent in builds before it was added). */
  NODE_LLAMA_CPP_BUILD_VERSION?: string;
  CriticNet: NativeCriticNetConstructor;
  CriticTrainer: new (options: CriticTrainerOptions) => NativeCriticTrainer;
  CLASSIFIER_FEATURE_VERSION: number;
  classifierFeatures(options: FeatureSettings, bytes: Uint8Array): Int32Array;
  TextClassifier: new (options: FeatureSettings & { weights: Float32Array; bias: number; scale?: number; shift?: number }) => NativeTextClassifier;
  ClassifierTrainer: new (options: FeatureSettings & { lr: number; l2: number; batchSize: number; seed: number }) => NativeClassifierTrainer;
}

let cached: NativeAddon | undefined;

/** The addon, built by `npm install` (node-gyp). Throws a clear error when it was not built. */
export function nativeAddon(): NativeAddon {
  if (cached) return cached;
  // node-gyp's build (the default), else the cmake-js build (`npm run build:native:cmake`).
  // Last, the shipped prebuild: an app installed with --ignore-scripts never copied it into build/.
  const candidates = [join(PACKAGE_ROOT, "build", "Release", "inference_guard.node"), join(PACKAGE_ROOT, "build-cmake", "Release", "inference_guard.node"), prebuiltAddonPath()];
  const file = candidates.find((f) => existsSync(f));
  if (file === undefined) {
    throw new UserError(`native addon not built (${candidates[0]} is missing): run \`npm rebuild inference-guard\` (in a checkout: \`npm run build:native\`)`);
  }
  cached = createRequire(import.meta.url)(file) as NativeAddon;
  return cached;
}

/** One of the addon's kernels; a build from before it was added is told to rebuild. */
export function nativeKernel<K extends keyof NativeAddon>(name: K): NativeAddon[K] {
  const kernel = (nativeAddon() as Partial<NativeAddon>)[name];
  if (kernel === undefined) throw new UserError(`the native addon has no ${name} (stale build?): run \`npm run build:native\``);
  return kernel as NativeAddon[K];
}

/** A 64-bit seed as the two 32-bit halves the native calls take. */
export function seedHalves(seed: bigint): { hi: number; lo: number } {
  const s = BigInt.asUintN(64, seed);
  return { hi: Number(s >> 32n), lo: Number(s & 0xffffffffn) };
}
