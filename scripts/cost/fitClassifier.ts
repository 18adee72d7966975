// One fit of the native hashed n-gram classifier (native/classifier) on labelled texts, with the
// shipped feature settings (DEFAULT_TRAIN_OPTIONS, overridable by IG_* variables) and every group
// (a source and label) carrying an equal share of the loss; used by scripts/cost/harm-classifier.ts
// (answer harm) and scripts/cost/request-harm.ts (request harm, compliance).
import { type ClassifierSpec, featuresHeader } from "../../src/cost/classifier/classifierFormat.js";
import { type FeatureSettings, TextPacker, classifierAddon } from "../../src/cost/classifier/classifierNative.js";
import { DEFAULT_TRAIN_OPTIONS } from "../../src/cost/classifier/trainClassifier.js";

const env = (name: string, dflt: number): number => (process.env[name] !== undefined ? Number(process.env[name]) : dflt);
export const FIT_OPTIONS = {
  ...DEFAULT_TRAIN_OPTIONS,
  charWeight: env("IG_CHAR_WEIGHT", DEFAULT_TRAIN_OPTIONS.charWeight),
  wordNgrams: env("IG_WORD_NGRAMS", DEFAULT_TRAIN_OPTIONS.wordNgrams),
  l2: env("IG_L2", DEFAULT_TRAIN_OPTIONS.l2),
  epochs: env("IG_EPOCHS", DEFAULT_TRAIN_OPTIONS.epochs),
};

export interface FitExample {
  text: string;
  label: 0 | 1;
  /** The loss-weighting group's source (each (source, label) gets an equal share). */
  source: string;
}

/** Weights that give each (source, label) an equal share, scaled to mean 1. */
function weights(xs: readonly FitExample[]): Float32Array {
  const groups = new Map<string, number>();
  const key = (x: FitExample): string => `${x.source}\0${x.label}`;
  for (const x of xs) groups.set(key(x), (groups.get(key(x)) ?? 0) + 1);
  const w = Float32Array.from(xs, (x) => 1 / groups.get(key(x))!);
  const scale = xs.length / w.reduce((s, v) => s + v, 0);
  return w.map((v) => v * scale);
}

export interface FitMeta {
  positiveClass: string;
  labels: string;
  command: string[];
}

/** Trains one classifier (uncalibrated: scale 1, shift 0) and returns its file contents. */
export function fitClassifier(xs: readonly FitExample[], meta: FitMeta): ClassifierSpec {
  const o = FIT_OPTIONS;
  const addon = classifierAddon();
  const settings: FeatureSettings = {
    featureVersion: addon.CLASSIFIER_FEATURE_VERSION,
    bucketBits: o.bucketBits, wordNgrams: o.wordNgrams, charMin: o.charMin, charMax: o.charMax, charWeight: o.charWeight, hashSeed: 0,
  };
  const trainer = new addon.ClassifierTrainer({ ...settings, lr: o.lr, l2: o.l2, batchSize: o.batchSize, seed: o.seed });
  const packer = new TextPacker();
  const w = weights(xs);
  for (let at = 0; at < xs.length; at += 2048) {
    const chunk = xs.slice(at, at + 2048);
    const packed = packer.pack(chunk.map((x) => x.text));
    trainer.addExamples(packed.bytes, packed.offsets, packed.count, Float32Array.from(chunk, (x) => x.label), w.subarray(at, at + chunk.length));
  }
  trainer.run(Math.ceil(xs.length / o.batchSize) * o.epochs);
  const weightsOut = new Float32Array(2 ** o.bucketBits);
  const bias = trainer.weights(weightsOut);
  const names = [...new Set(xs.map((x) => x.source))];
  const sources = names.map((name) => ({ name, rows: xs.filter((x) => x.source === name).length, unsafe: xs.filter((x) => x.source === name && x.label === 1).length }));
  return {
    header: {
      formatVersion: 1, kind: "text-classifier", model: "logistic-regression", positiveClass: meta.positiveClass,
      features: featuresHeader(settings), bias, calibration: { method: "none", scale: 1, shift: 0 },
      training: {
        seed: o.seed, epochs: o.epochs, lr: o.lr, l2: o.l2, batchSize: o.batchSize,
        data: { sources, weighting: "each (source, label) an equal share", labels: meta.labels, splits: "models/splits" },
        command: meta.command, // no createdAt: the same inputs give the same bytes (scripts/cost/build-chat-cost.sh)
      },
      payloadFloats: weightsOut.length,
    },
    weights: weightsOut,
  };
}
