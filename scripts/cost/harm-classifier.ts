// The hashed n-gram text classifier (native/classifier) retrained on the harm data of issue 26
// (src/cost/harmData.ts: XSTest human labels, GPTFuzz's labels, hh-rlhf chosen answers, SmolLM2's
// own answers by request and compliance; no tiny-assistant word salad), with the shipped feature
// settings and every (source, label) carrying an equal share of the loss (as scripts/cost/compare.py).
//
//   npx tsx scripts/cost/harm-classifier.ts loso DATA.jsonl FOLDS.json SCORES.json
//       scores every fold of compare.py's folds.json (its test rows), for compare.py --scores
//   npx tsx scripts/cost/harm-classifier.ts train DATA.jsonl OUT.bin
//       trains on every source's training side and writes a classifier file (classifier:OUT.bin)
import { readFileSync, writeFileSync } from "node:fs";
import { TextClassifier } from "../../src/cost/classifier/classifier.js";
import { type ClassifierSpec, featuresHeader, writeClassifierFile } from "../../src/cost/classifier/classifierFormat.js";
import { type FeatureSettings, TextPacker, classifierAddon } from "../../src/cost/classifier/classifierNative.js";
import { DEFAULT_TRAIN_OPTIONS } from "../../src/cost/classifier/trainClassifier.js";
import type { HarmExample } from "../../src/cost/harmData.js";
import { calibrationFold } from "./calibrationFold.js";

// Feature and fit settings: the shipped classifier's (DEFAULT_TRAIN_OPTIONS) unless overridden,
// e.g. IG_CHAR_WEIGHT=0 IG_WORD_NGRAMS=2 (word uni+bigrams only, as the TF-IDF baseline).
const [mode, dataPath, a, b] = process.argv.slice(2);
const env = (name: string, dflt: number): number => (process.env[name] !== undefined ? Number(process.env[name]) : dflt);
const rows = readFileSync(dataPath!, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as HarmExample);
const o = {
  ...DEFAULT_TRAIN_OPTIONS,
  charWeight: env("IG_CHAR_WEIGHT", DEFAULT_TRAIN_OPTIONS.charWeight),
  wordNgrams: env("IG_WORD_NGRAMS", DEFAULT_TRAIN_OPTIONS.wordNgrams),
  l2: env("IG_L2", DEFAULT_TRAIN_OPTIONS.l2),
  epochs: env("IG_EPOCHS", DEFAULT_TRAIN_OPTIONS.epochs),
};

function weights(idx: readonly number[]): Float32Array {
  const groups = new Map<string, number>();
  for (const i of idx) groups.set(`${rows[i]!.source}\0${rows[i]!.label}`, (groups.get(`${rows[i]!.source}\0${rows[i]!.label}`) ?? 0) + 1);
  const w = Float32Array.from(idx, (i) => 1 / groups.get(`${rows[i]!.source}\0${rows[i]!.label}`)!);
  const scale = idx.length / w.reduce((s, x) => s + x, 0);
  return w.map((x) => x * scale);
}

function fit(train: readonly number[]): ClassifierSpec {
  const addon = classifierAddon();
  const settings: FeatureSettings = {
    featureVersion: addon.CLASSIFIER_FEATURE_VERSION,
    bucketBits: o.bucketBits, wordNgrams: o.wordNgrams, charMin: o.charMin, charMax: o.charMax, charWeight: o.charWeight, hashSeed: 0,
  };
  const trainer = new addon.ClassifierTrainer({ ...settings, lr: o.lr, l2: o.l2, batchSize: o.batchSize, seed: o.seed });
  const packer = new TextPacker();
  const w = weights(train);
  for (let at = 0; at < train.length; at += 2048) {
    const chunk = train.slice(at, at + 2048);
    const packed = packer.pack(chunk.map((i) => rows[i]!.text));
    trainer.addExamples(packed.bytes, packed.offsets, packed.count, Float32Array.from(chunk, (i) => rows[i]!.label), w.subarray(at, at + chunk.length));
  }
  trainer.run(Math.ceil(train.length / o.batchSize) * o.epochs);
  const weightsOut = new Float32Array(2 ** o.bucketBits);
  const bias = trainer.weights(weightsOut);
  const sources = [...new Set(train.map((i) => rows[i]!.source))].map((name) => ({
    name, rows: train.filter((i) => rows[i]!.source === name).length, unsafe: train.filter((i) => rows[i]!.source === name && rows[i]!.label === 1).length,
  }));
  return {
    header: {
      formatVersion: 1, kind: "text-classifier", model: "logistic-regression", positiveClass: "unsafe (a harmful answer)",
      features: featuresHeader(settings), bias, calibration: { method: "none", scale: 1, shift: 0 },
      training: {
        seed: o.seed, epochs: o.epochs, lr: o.lr, l2: o.l2, batchSize: o.batchSize,
        data: { sources, weighting: "each (source, label) an equal share", labels: "src/cost/harmData.ts", splits: "models/splits" },
        // No createdAt and no paths: a rebuild from the same inputs gives the same bytes (the harm: file pins them by sha256).
        command: ["bash", "scripts/cost/build-chat-cost.sh", `(scripts/cost/harm-classifier.ts ${mode})`],
      },
      payloadFloats: weightsOut.length,
    },
    weights: weightsOut,
  };
}

if (mode === "loso") {
  const folds = JSON.parse(readFileSync(a!, "utf8")) as Record<string, { train: number[]; test: number[] }>;
  const out: Record<string, number[]> = {};
  for (const [name, f] of Object.entries(folds)) {
    const model = TextClassifier.fromSpec(fit(f.train), name);
    out[name] = Array.from(model.score(f.test.map((i) => rows[i]!.text)));
    console.log(name, f.train.length, "train", f.test.length, "test");
  }
  writeFileSync(b!, JSON.stringify(out));
} else if (mode === "train") {
  // IG_CALIBRATION_FOLD=1 leaves out the training prompts that scripts/cost/calibrate.ts chooses
  // the output scale on (calibrationFold), so that choice sees scores of unseen prompts.
  const leaveOut = process.env.IG_CALIBRATION_FOLD === "1";
  const train = rows.flatMap((r, i) => (r.side === "train" && !(leaveOut && calibrationFold(r.promptId)) ? [i] : []));
  writeClassifierFile(a!, fit(train));
  console.log(`${train.length} training rows -> ${a}`);
} else {
  throw new Error("usage: harm-classifier.ts loso DATA FOLDS SCORES | train DATA OUT.bin");
}
