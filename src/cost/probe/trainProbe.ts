// Trains a latent probe (see probe.ts): the base model's hidden states of labelled texts,
// then an L2-regularised logistic regression on standardised features, fitted with mini-batch Adam
// (seeded: the same data, options and seed give the same probe).
//
// Features come from one forward pass per text (BOS + its tokens, cut to maxTokens) through a
// dedicated engine, texts batched into sequences of one decode. Both poolings are read in that one
// pass: the last token's hidden state and the mean over all tokens. With pooling "auto" both are
// fitted on part of the training split and compared on the rest (held out from the fit); the
// winner is refitted on the whole training split. The validation split is never used for a
// choice. On a near tie "last" wins: it can reuse a kept prefix from any depth when scoring, mean
// pooling only within a few tokens of a kept text's end. Measured with stories260K (1,000
// examples, 128 tokens, validation AUC last / mean): GPTFuzz answers 0.752 / 0.866, XSTest answers
// 0.629 / 0.863, a synthetic marker-word set 0.77 / 1.0: mean pooling wins on all three.
import { basename, dirname, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { Engine } from "../../engine/engine.js";
import { UserError, describeZodError } from "../../errors.js";
import { batchInvariantKvCacheType } from "../../engine/kvCacheType.js";
import { PrefixForward } from "../../engine/prefixForward.js";
import {
  PROBE_FORMAT,
  PROBE_FORMAT_VERSION,
  type ProbeFile,
  type ProbePooling,
  type ProbeSplitMetrics,
} from "./probeFormat.js";
import { fileSha256 } from "../../util/fileHash.js";
import { rocAuc } from "../../util/metrics.js";
import { Progress } from "../../util/progress.js";
import { readJsonLinesFile } from "../../util/jsonLines.js";
import { yieldToEventLoop } from "../../util/yield.js";
import { definedOnly } from "../../util/objects.js";
import { type LogisticModel, fitLogistic, sigmoid } from "../../util/logistic.js";
import { mulberry32, shuffle } from "../../util/random.js";
import { stratifiedSplit as splitByLabel } from "../../util/splits.js";

/** One training example: label 1 = unsafe, 0 = safe. */
export interface ProbeExample {
  text: string;
  label: 0 | 1;
}

export type PoolingChoice = ProbePooling | "auto";

export interface TrainProbeOptions {
  modelPath: string;
  examples: readonly ProbeExample[];
  /** Where the probe will be written: its model path is recorded relative to this file's folder. */
  outPath: string;
  pooling?: PoolingChoice;
  epochs?: number;
  learningRate?: number;
  l2?: number;
  batchSize?: number;
  seed?: number;
  /** Share of each label held out for validation. */
  validationFraction?: number;
  /** Tokens of a text the probe reads during training (BOS included); longer texts are cut. */
  maxTokens?: number;
  /** Use at most this many examples (a seeded random subset, both labels kept). */
  maxExamples?: number;
  threads?: number;
  /** Progress bars go here (default stderr); false: none. */
  progress?: NodeJS.WritableStream | false;
  /** Recorded in the file's training metadata. */
  dataName?: string;
  command?: string[];
  /** Aborted: stop at the next chunk of the feature pass or before the next fit (a UserError; nothing is returned to write). */
  signal?: AbortSignal;
}

export const TRAIN_PROBE_DEFAULTS = {
  pooling: "auto" as PoolingChoice,
  epochs: 100,
  learningRate: 0.01,
  l2: 1e-3,
  batchSize: 32,
  seed: 1,
  validationFraction: 0.2,
  maxTokens: 256,
};

/** "mean" must beat "last" by this much AUC (on the held-out part of train) to be chosen: a near tie goes to "last". */
const MEAN_MARGIN = 0.005;
/** Texts per forward call: a small trie keeps the unified KV cache (and attention over it) small. */
const FEATURE_CHUNK = 16;

export interface PoolingComparison {
  /** AUC of each pooling on the held-out part of the training split (what "auto" chose by). */
  selectionAuc: Record<ProbePooling, number | null>;
  /** AUC of each pooling refitted on the whole training split, on the validation split (reported, not used). */
  validationAuc: Record<ProbePooling, number | null>;
  chosen: ProbePooling;
}

export interface TrainProbeResult {
  probe: ProbeFile;
  comparison?: PoolingComparison;
  seconds: number;
}

const exampleSchema = z.looseObject({
  text: z.string().min(1, "text must not be empty"),
  label: z.union([z.literal(0), z.literal(1)], { error: "label must be 0 (safe) or 1 (unsafe)" }),
});

/** Reads a JSON Lines file of {"text": "...", "label": 0|1} (1 = unsafe); blank lines are skipped. */
export function readProbeExamples(path: string): ProbeExample[] {
  const rows = readJsonLinesFile(path, {
    noun: "data file",
    shape: '{"text": "...", "label": 0 or 1}',
    schema: exampleSchema,
    describe: describeZodError,
  });
  return rows.map((row) => ({ text: row.text, label: row.label }));
}

export async function trainProbe(options: TrainProbeOptions): Promise<TrainProbeResult> {
  const started = performance.now();
  const o = { ...TRAIN_PROBE_DEFAULTS, ...definedOnly(options) };
  for (const [name, value, ok] of [
    ["epochs", o.epochs, Number.isInteger(o.epochs) && o.epochs >= 1],
    ["learning rate", o.learningRate, o.learningRate > 0 && Number.isFinite(o.learningRate)],
    ["l2", o.l2, o.l2 >= 0 && Number.isFinite(o.l2)],
    ["batch size", o.batchSize, Number.isInteger(o.batchSize) && o.batchSize >= 1],
    ["validation fraction", o.validationFraction, o.validationFraction > 0 && o.validationFraction < 1],
    ["max tokens", o.maxTokens, Number.isInteger(o.maxTokens) && o.maxTokens >= 2],
  ] as const) {
    if (!ok) throw new UserError(`invalid ${name}: ${value}`);
  }
  if (o.maxExamples !== undefined && !(Number.isInteger(o.maxExamples) && o.maxExamples >= 4)) {
    throw new UserError(`invalid max examples: ${o.maxExamples} (at least 4)`);
  }
  const rng = mulberry32(o.seed);
  let examples = [...options.examples];
  if (o.maxExamples !== undefined && examples.length > o.maxExamples) examples = stratifiedSubset(examples, o.maxExamples, rng);
  const { train, validation } = stratifiedSplit(examples.length, (i) => examples[i].label, o.validationFraction, rng);
  for (const [name, split] of [["training", train], ["validation", validation]] as const) {
    const positives = split.filter((i) => examples[i].label === 1).length;
    if (positives === 0 || positives === split.length) {
      throw new UserError(`the ${name} split needs both labels: give at least 2 safe and 2 unsafe examples (got ${count(examples, 1)} unsafe, ${count(examples, 0)} safe)`);
    }
  }

  const engine = await Engine.load({
    modelPath: options.modelPath,
    threads: o.threads ?? 1,
    contextSize: Math.max(1024, FEATURE_CHUNK * o.maxTokens),
    maxSequences: FEATURE_CHUNK,
    // The same precision the probe will score with, so training sees the same features.
    kvCacheType: batchInvariantKvCacheType(options.modelPath),
  });
  let features: { last: Float32Array; mean: Float32Array };
  let sha256: string;
  const nEmbd = engine.info.nEmbd;
  const nVocab = engine.info.nVocab;
  try {
    sha256 = await fileSha256(options.modelPath);
    features = await extractFeatures(engine, examples.map((e) => e.text), o.maxTokens, o.progress, options.signal);
  } finally {
    await engine.dispose();
  }

  const labels = Uint8Array.from(examples, (e) => e.label);
  let comparison: PoolingComparison | undefined;
  let pooling: ProbePooling;
  // "auto": two fits on the inner split, the loser refitted for the report, the winner refitted.
  const fits = o.pooling === "auto" ? 4 : 1;
  // The bar counts every epoch of every fit, and says so: `--epochs 20` with auto draws 80.
  const unit = fits === 1 ? "epochs" : `epochs (${fits} fits x ${o.epochs}: --pooling auto fits both poolings)`;
  const progress = o.progress === false ? undefined : new Progress(fits * o.epochs, { unit, label: "fit", stream: o.progress });
  const tick = () => progress?.tick();
  if (o.pooling === "auto") {
    const inner = stratifiedSplit(train.length, (i) => examples[train[i]].label, 0.25, mulberry32(o.seed + 1));
    const innerTrain = inner.train.map((i) => train[i]);
    const innerHeld = inner.validation.map((i) => train[i]);
    const selectionAuc = {} as Record<ProbePooling, number | null>;
    for (const p of ["last", "mean"] as const) {
      await stopIfAsked(options.signal);
      const model = fitLogistic(features[p], nEmbd, labels, innerTrain, o, o.seed, tick);
      selectionAuc[p] = evaluate(model, features[p], nEmbd, labels, innerHeld).auc;
    }
    pooling = (selectionAuc.mean ?? 0) > (selectionAuc.last ?? 0) + MEAN_MARGIN ? "mean" : "last";
    const validationAuc = {} as Record<ProbePooling, number | null>;
    const other: ProbePooling = pooling === "last" ? "mean" : "last";
    await stopIfAsked(options.signal);
    const otherModel = fitLogistic(features[other], nEmbd, labels, train, o, o.seed, tick);
    validationAuc[other] = evaluate(otherModel, features[other], nEmbd, labels, validation).auc;
    comparison = { selectionAuc, validationAuc, chosen: pooling };
  } else {
    pooling = o.pooling;
  }
  await stopIfAsked(options.signal);
  const model = fitLogistic(features[pooling], nEmbd, labels, train, o, o.seed, tick);
  progress?.finish();
  // A stop asked for during the last (synchronous) fit is seen here, before anything is returned to write.
  await stopIfAsked(options.signal);
  const trainMetrics = evaluate(model, features[pooling], nEmbd, labels, train);
  const validationMetrics = evaluate(model, features[pooling], nEmbd, labels, validation);
  if (comparison) comparison.validationAuc[pooling] = validationMetrics.auc;

  const outDir = dirname(resolve(options.outPath));
  const probe: ProbeFile = {
    format: PROBE_FORMAT,
    formatVersion: PROBE_FORMAT_VERSION,
    model: {
      file: basename(options.modelPath),
      path: recordedModelPath(outDir, resolve(options.modelPath)),
      sha256,
      nEmbd,
      nVocab,
    },
    pooling,
    standardization: { mean: Array.from(model.mean), std: Array.from(model.std) },
    weights: Array.from(model.w),
    bias: model.b,
    metrics: {
      validation: validationMetrics,
      train: trainMetrics,
      ...(comparison ? { pooling: comparison } : {}),
    },
    training: {
      data: o.dataName ?? null,
      examples: examples.length,
      unsafe: count(examples, 1),
      trainExamples: train.length,
      validationExamples: validation.length,
      poolingOption: o.pooling,
      epochs: o.epochs,
      learningRate: o.learningRate,
      l2: o.l2,
      batchSize: o.batchSize,
      seed: o.seed,
      validationFraction: o.validationFraction,
      maxTokens: o.maxTokens,
      createdAt: new Date().toISOString(),
      ...(o.command ? { command: o.command } : {}),
    },
  };
  return { probe, comparison, seconds: (performance.now() - started) / 1000 };
}

/**
 * The model path as the probe file records it: relative to the probe's folder when the two share a
 * folder below the filesystem root (they can move together), else absolute.
 */
function recordedModelPath(outDir: string, modelPath: string): string {
  const a = outDir.split(sep).filter(Boolean);
  const b = modelPath.split(sep).filter(Boolean);
  return a.length > 0 && a[0] === b[0] ? relative(outDir, modelPath) : modelPath;
}

/** The decodes and fits are synchronous: a turn of the event loop lets a Ctrl-C / SIGTERM reach the signal first. */
async function stopIfAsked(signal: AbortSignal | undefined): Promise<void> {
  await yieldToEventLoop();
  if (signal?.aborted) throw new UserError("train-probe was stopped before it finished; nothing was written");
}

/**
 * Last-token and mean-pooled hidden states of every text (rows of nEmbd floats, in order). Texts
 * are grouped by length so one forward call's branches end together.
 */
export async function extractFeatures(
  engine: Engine,
  texts: readonly string[],
  maxTokens: number,
  progressStream?: NodeJS.WritableStream | false,
  signal?: AbortSignal,
): Promise<{ last: Float32Array; mean: Float32Array }> {
  const nEmbd = engine.info.nEmbd;
  const tokens = texts.map((t) => engine.completionPrompt(t).slice(0, maxTokens));
  const order = Array.from(tokens.keys()).sort((a, b) => tokens[a].length - tokens[b].length);
  const last = new Float32Array(texts.length * nEmbd);
  const mean = new Float32Array(texts.length * nEmbd);
  engine.clear();
  const forward = new PrefixForward(engine, { output: { kind: "hidden", pooling: "both" }, reuse: false });
  const progress = progressStream === false ? undefined : new Progress(texts.length, { unit: "texts", label: "features", stream: progressStream });
  for (let start = 0; start < order.length; start += FEATURE_CHUNK) {
    await stopIfAsked(signal);
    const chunk = order.slice(start, start + FEATURE_CHUNK);
    const rows = forward.run(chunk.map((i) => tokens[i]));
    chunk.forEach((i, k) => {
      last.set(rows[k].subarray(0, nEmbd), i * nEmbd);
      mean.set(rows[k].subarray(nEmbd), i * nEmbd);
    });
    progress?.tick(chunk.length);
  }
  progress?.finish();
  return { last, mean };
}

/** P(unsafe) of each of `rows`. */
export function predict(model: LogisticModel, X: Float32Array, d: number, rows: readonly number[]): Float64Array {
  return Float64Array.from(rows, (r) => {
    let z = model.b;
    for (let j = 0; j < d; j++) z += (model.w[j] * (X[r * d + j] - model.mean[j])) / model.std[j];
    return sigmoid(z);
  });
}

/** AUC (null with one label only), accuracy at 0.5 and mean log-loss on `rows`. */
export function evaluate(model: LogisticModel, X: Float32Array, d: number, y: Uint8Array, rows: readonly number[]): ProbeSplitMetrics {
  const p = predict(model, X, d, rows);
  const labels = Uint8Array.from(rows, (r) => y[r]);
  let correct = 0;
  let loss = 0;
  labels.forEach((label, i) => {
    if ((p[i] >= 0.5 ? 1 : 0) === label) correct++;
    loss -= Math.log(Math.max(1e-12, label === 1 ? p[i] : 1 - p[i]));
  });
  const auc = rocAuc(p, labels);
  return {
    examples: rows.length,
    positives: labels.reduce((s, l) => s + l, 0),
    auc: Number.isNaN(auc) ? null : auc,
    accuracy: rows.length > 0 ? correct / rows.length : 0,
    logLoss: rows.length > 0 ? loss / rows.length : 0,
  };
}

/** The one stratified split (src/util/splits.ts), each side in index order. */
export function stratifiedSplit(n: number, labelOf: (i: number) => number, fraction: number, rng: () => number): { train: number[]; validation: number[] } {
  const { train, validation } = splitByLabel(n, labelOf, fraction, rng);
  return { train: train.sort((a, b) => a - b), validation: validation.sort((a, b) => a - b) };
}

/** A seeded random subset of exactly `size` examples, the labels in their original proportion (at least 2 of each when there are). */
export function stratifiedSubset(examples: readonly ProbeExample[], size: number, rng: () => number): ProbeExample[] {
  const unsafe = examples.filter((e) => e.label === 1);
  const safe = examples.filter((e) => e.label === 0);
  let takeUnsafe = Math.round((size * unsafe.length) / examples.length);
  takeUnsafe = Math.min(unsafe.length, Math.max(takeUnsafe, Math.min(2, unsafe.length), size - safe.length));
  const takeSafe = Math.min(safe.length, size - takeUnsafe);
  shuffle(unsafe, rng);
  shuffle(safe, rng);
  return [...unsafe.slice(0, takeUnsafe), ...safe.slice(0, takeSafe)];
}

function count(examples: readonly ProbeExample[], label: 0 | 1): number {
  return examples.reduce((s, e) => s + (e.label === label ? 1 : 0), 0);
}
