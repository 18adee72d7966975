// Trains the harm classifier behind the "classifier" cost model: builds the training mix from
// the shared data, trains logistic regression on hashed n-grams in C++ (native/classifier/classifier.cpp),
// calibrates it (Platt scaling on a validation split), and evaluates it on held-out sets.
//
// The mix (see docs/cost-models.md for why): the classifier must score *answers* by harm, so
// answers carry most of the weight (GPTFuzz jailbreak responses, XSTest answers); harmful and
// harmless requests and offensive tweets add vocabulary with less weight. Each source gets a
// share of the total loss weight, split equally between its classes (a source's own class ratio
// is an artefact of how it was collected). Held out, never trained on: GPTFuzz
// responses_evaluate.csv, and every answer of the --xstest-holdout models.
import { type ClassifierHeader, type ClassifierSpec, featuresHeader } from "./classifierFormat.js";
import { TextClassifier } from "./classifier.js";
import { type BinaryMetrics, binaryMetrics, fitPlatt } from "./classifierMetrics.js";
import { type FeatureSettings, TextPacker, classifierAddon } from "./classifierNative.js";
import { join } from "node:path";
import { z } from "zod";
import { UserError, describeZodError } from "../../errors.js";
import { PACKAGE_ROOT } from "../../paths.js";
import { readUserFile } from "../../util/files.js";
import { mulberry32 } from "../../util/random.js";
import { yieldToEventLoop } from "../../util/yield.js";
import { stratifiedSplit as splitByLabel } from "../../util/splits.js";
import {
  type LabeledText,
  type XsTestModel,
  XSTEST_MODELS,
  loadDavidson,
  loadGptFuzz,
  loadPromptSet,
  loadXsTestAnswers,
  loadXsTestPrompts,
} from "../../data/datasets.js";

/** Training sources, by the name the --mix flag uses. */
export const MIX_SOURCES = ["gptfuzz", "xstest", "harmless-answers", "harmful-answers", "harmful-prompts", "harmless-prompts", "davidson"] as const;
export type MixSource = (typeof MIX_SOURCES)[number];

/** Sources made of model answers: the calibration is fitted on their validation rows. */
/** What a stopped run says: the classifier file is written whole, after training, or not at all. */
const STOPPED = "train-cost was stopped before it finished; nothing was written";

const ANSWER_SOURCES: readonly MixSource[] = ["gptfuzz", "xstest", "harmless-answers", "harmful-answers"];

/**
 * Compliant answers to harmless requests (label 0): the tiny assistant's own plain-sampled answers to
 * 1,500 Alpaca harmless_train instructions (models/README.md has the command). Without them every
 * negative of GPTFuzz is a refusal, and the classifier learns "complying" instead of "harm".
 */
export const DEFAULT_HARMLESS_ANSWERS: string = join(PACKAGE_ROOT, "models", "testbed", "harmless-answers.train.jsonl");

/**
 * Their counterpart (label 1): the tiny assistant's answers to the 260 harmful_train requests (4
 * each) that do not refuse. With harmless answers alone the classifier learned the assistant's style
 * as safe and charged its harmful answers little; both sides in the same style leave the content.
 */
export const DEFAULT_HARMFUL_ANSWERS: string = join(PACKAGE_ROOT, "models", "testbed", "harmful-answers.train.jsonl");

/** Default share of the training loss per source (normalised to sum 1; 0 leaves a source out). */
export const DEFAULT_MIX: Readonly<Record<MixSource, number>> = {
  gptfuzz: 0.4,
  xstest: 0.25,
  "harmless-answers": 0.2,
  "harmful-answers": 0,
  "harmful-prompts": 0.05,
  "harmless-prompts": 0.05,
  davidson: 0.05,
};

/** XSTest models whose answers are kept out of training by default (the held-out test). */
export const DEFAULT_XSTEST_HOLDOUT: readonly XsTestModel[] = ["mistralinstruct"];

export interface TrainClassifierOptions {
  /** The shared data folder (holding safety/ and toxicity/). */
  dataDir: string;
  epochs: number;
  seed: number;
  bucketBits: number;
  wordNgrams: number;
  charMin: number;
  charMax: number;
  charWeight: number;
  lr: number;
  l2: number;
  batchSize: number;
  mix: Record<MixSource, number>;
  /** JSON Lines of {"text": ...} harmless answers (the harmless-answers source). */
  harmlessAnswers: string;
  /** JSON Lines of {"text": ...} harmful answers (the harmful-answers source). */
  harmfulAnswers: string;
  xstestHoldout: readonly XsTestModel[];
  /** Share of every training source set aside for calibration and validation metrics. */
  validationFraction: number;
  /** "platt": rescale the logits to fit the validation answers; "none": keep the model's own. */
  calibration: "none" | "platt";
}

export const DEFAULT_TRAIN_OPTIONS: Omit<TrainClassifierOptions, "dataDir"> = {
  epochs: 6,
  seed: 1,
  bucketBits: 18,
  wordNgrams: 3,
  charMin: 3,
  charMax: 5,
  charWeight: 0.25,
  lr: 0.2,
  l2: 1e-4,
  batchSize: 32,
  mix: { ...DEFAULT_MIX },
  harmlessAnswers: DEFAULT_HARMLESS_ANSWERS,
  harmfulAnswers: DEFAULT_HARMFUL_ANSWERS,
  xstestHoldout: DEFAULT_XSTEST_HOLDOUT,
  validationFraction: 0.1,
  calibration: "none",
};

export interface SourceSummary {
  name: MixSource;
  /** Rows trained on. */
  rows: number;
  unsafe: number;
  /** Rows set aside for validation. */
  validationRows: number;
  /** Share of the training loss. */
  weight: number;
}

export interface TrainClassifierResult {
  spec: ClassifierSpec;
  sources: SourceSummary[];
  /** Metrics by evaluation set: gptfuzz-evaluate, xstest-heldout (+ per model), validation. */
  metrics: Record<string, BinaryMetrics>;
  /** ECE of the uncalibrated model on the same sets, to show what calibration changed. */
  uncalibratedEce: Record<string, number>;
  seconds: number;
  trainLoss: number;
}

export interface TrainHooks {
  /** Called while loading ("load"), training ("train", done/total batches) and evaluating ("eval"). */
  onProgress?(phase: "load" | "train" | "eval", done: number, total: number, note?: string): void;
  /** Aborted: stop before the next run of batches (a UserError; nothing is returned to write). */
  signal?: AbortSignal;
}


/** Splits texts into (train, validation), a `fraction` of each class to validation, seeded (the one stratified split, src/util/splits.ts). */
export function stratifiedSplit<T extends LabeledText>(texts: readonly T[], fraction: number, seed: number): { train: T[]; validation: T[] } {
  const { train, validation } = splitByLabel(texts.length, (i) => texts[i]!.label, fraction, mulberry32(seed));
  return { train: train.map((i) => texts[i]!), validation: validation.map((i) => texts[i]!) };
}

interface Source {
  name: MixSource;
  texts: LabeledText[];
}

/** Loads every source the mix uses, and the held-out sets. */
function loadData(options: TrainClassifierOptions): { sources: Source[]; heldOut: Record<string, LabeledText[]> } {
  const { dataDir, mix } = options;
  const sources: Source[] = [];
  const heldOut: Record<string, LabeledText[]> = {};
  heldOut["gptfuzz-evaluate"] = loadGptFuzz(dataDir, "evaluate");
  if (mix.gptfuzz > 0) sources.push({ name: "gptfuzz", texts: loadGptFuzz(dataDir, "train") });
  const prompts = loadXsTestPrompts(dataDir);
  const xsTrain: LabeledText[] = [];
  const xsHeld: LabeledText[] = [];
  for (const model of XSTEST_MODELS) {
    const answers = loadXsTestAnswers(dataDir, model, prompts);
    if (options.xstestHoldout.includes(model)) {
      xsHeld.push(...answers);
      if (options.xstestHoldout.length > 1) heldOut[`xstest-${model}`] = answers;
    } else {
      xsTrain.push(...answers);
    }
  }
  if (xsHeld.length > 0) heldOut["xstest-heldout"] = xsHeld;
  if (mix.xstest > 0 && xsTrain.length > 0) sources.push({ name: "xstest", texts: xsTrain });
  if (mix["harmless-answers"] > 0) sources.push({ name: "harmless-answers", texts: loadAnswerTexts(options.harmlessAnswers, 0, "harmless-answers") });
  if (mix["harmful-answers"] > 0) sources.push({ name: "harmful-answers", texts: loadAnswerTexts(options.harmfulAnswers, 1, "harmful-answers") });
  if (mix["harmful-prompts"] > 0) sources.push({ name: "harmful-prompts", texts: loadPromptSet(dataDir, "harmful", "train") });
  if (mix["harmless-prompts"] > 0) sources.push({ name: "harmless-prompts", texts: loadPromptSet(dataDir, "harmless", "train") });
  if (mix.davidson > 0) sources.push({ name: "davidson", texts: loadDavidson(dataDir) });
  return { sources, heldOut };
}

/**
 * Per-example loss weights: each source's share of the mix, split equally between the classes it
 * has, spread evenly over that class's rows; scaled so the mean weight is 1 (the learning rate
 * then means the same whatever the data size).
 */
function exampleWeights(parts: Array<{ name: MixSource; texts: LabeledText[] }>, mix: Record<MixSource, number>): Float32Array[] {
  const total = parts.reduce((s, p) => s + mix[p.name], 0);
  const rows = parts.reduce((s, p) => s + p.texts.length, 0);
  return parts.map((p) => {
    const counts = [0, 0];
    for (const t of p.texts) counts[t.label]!++;
    const share = mix[p.name] / total;
    const classes = counts.filter((c) => c > 0).length;
    return Float32Array.from(p.texts, (t) => (share / classes / counts[t.label]!) * rows);
  });
}

/** Trains, calibrates and evaluates a classifier; see the top of this file. */
export async function trainClassifier(options: TrainClassifierOptions, hooks: TrainHooks = {}): Promise<TrainClassifierResult> {
  const started = performance.now();
  if (!Object.values(options.mix).some((w) => w > 0)) throw new UserError("the training mix gives every source weight 0");
  hooks.onProgress?.("load", 0, 1);
  const { sources, heldOut } = loadData(options);
  if (sources.length === 0) throw new UserError("no training data: every source in the mix is empty or weighted 0");
  hooks.onProgress?.("load", 1, 1);

  // Validation split per source, seeded.
  const trainParts: Array<{ name: MixSource; texts: LabeledText[] }> = [];
  const validation: Array<{ name: MixSource; texts: LabeledText[] }> = [];
  sources.forEach((s, k) => {
    const split = stratifiedSplit(s.texts, options.validationFraction, options.seed * 7919 + k);
    trainParts.push({ name: s.name, texts: split.train });
    validation.push({ name: s.name, texts: split.validation });
  });

  const addon = classifierAddon();
  const settings: FeatureSettings = {
    featureVersion: addon.CLASSIFIER_FEATURE_VERSION,
    bucketBits: options.bucketBits,
    wordNgrams: options.wordNgrams,
    charMin: options.charMin,
    charMax: options.charMax,
    charWeight: options.charWeight,
    hashSeed: 0,
  };
  const trainer = new addon.ClassifierTrainer({
    ...settings,
    lr: options.lr,
    l2: options.l2,
    batchSize: options.batchSize,
    seed: options.seed,
  });
  const packer = new TextPacker();
  const weights = exampleWeights(trainParts, options.mix);
  trainParts.forEach((part, k) => {
    // In chunks, so the packed UTF-8 never needs one huge buffer.
    for (let at = 0; at < part.texts.length; at += 2048) {
      const chunk = part.texts.slice(at, at + 2048);
      const packed = packer.pack(chunk.map((t) => t.text));
      trainer.addExamples(packed.bytes, packed.offsets, packed.count, Float32Array.from(chunk, (t) => t.label), weights[k]!.subarray(at, at + chunk.length));
    }
  });
  const nTrain = trainParts.reduce((s, p) => s + p.texts.length, 0);
  const batchesPerEpoch = Math.ceil(nTrain / options.batchSize);
  const totalBatches = batchesPerEpoch * options.epochs;
  const batchesPerTick = Math.max(1, Math.ceil(batchesPerEpoch / 20)); // ~20 progress updates an epoch
  let trainLoss = NaN;
  let lossSum = 0;
  let lossN = 0;
  for (let done = 0; done < totalBatches; ) {
    // The batches are synchronous native calls: a turn of the event loop lets a Ctrl-C / SIGTERM reach the signal.
    await yieldToEventLoop();
    if (hooks.signal?.aborted) throw new UserError(STOPPED);
    const n = Math.min(batchesPerTick, totalBatches - done);
    const r = trainer.run(n);
    done += n;
    lossSum += r.loss * r.examples;
    lossN += r.examples;
    // The loss shown (and kept) is the mean over the current epoch so far.
    const epochEnd = done % batchesPerEpoch === 0;
    trainLoss = lossSum / lossN;
    hooks.onProgress?.("train", done, totalBatches, `epoch ${Math.ceil(done / batchesPerEpoch)}/${options.epochs} loss ${trainLoss.toFixed(4)}`);
    if (epochEnd && done < totalBatches) {
      lossSum = 0;
      lossN = 0;
    }
  }

  const w = new Float32Array(2 ** options.bucketBits);
  const bias = trainer.weights(w);
  const logitsOf = (texts: LabeledText[]): Float32Array => {
    const out = new Float32Array(texts.length);
    for (let at = 0; at < texts.length; at += 2048) {
      const part = texts.slice(at, at + 2048);
      const packed = packer.pack(part.map((t) => t.text));
      trainer.predict(packed.bytes, packed.offsets, packed.count, out.subarray(at, at + part.length));
    }
    return out;
  };

  // Optional Platt scaling on the validation rows of the answer sources (what the cost model
  // scores), at their natural class ratio. Off by default: the class-balanced loss already gives
  // probabilities that are better calibrated on the held-out sets than this (measured; see
  // docs/cost-models.md), since the held-out class ratios differ from the validation rows'.
  hooks.onProgress?.("eval", 0, 1);
  const validationTexts = validation.flatMap((p) => p.texts);
  const answerParts = validation.filter((p) => ANSWER_SOURCES.includes(p.name));
  const calibrationParts = answerParts.length > 0 ? answerParts : validation;
  const calibrationTexts = calibrationParts.flatMap((p) => p.texts);
  const calibration: ClassifierHeader["calibration"] =
    options.calibration === "platt"
      ? {
          method: "platt",
          ...fitPlatt(logitsOf(calibrationTexts), calibrationTexts.map((t) => t.label)),
          fittedOn: `validation rows of ${calibrationParts.map((p) => p.name).join(" + ")} (${calibrationTexts.length})`,
        }
      : { method: "none", scale: 1, shift: 0 };

  const summaries: SourceSummary[] = trainParts.map((p, k) => ({
    name: p.name,
    rows: p.texts.length,
    unsafe: p.texts.filter((t) => t.label === 1).length,
    validationRows: validation[k]!.texts.length,
    weight: round4(options.mix[p.name] / trainParts.reduce((s, q) => s + options.mix[q.name], 0)),
  }));
  const spec: ClassifierSpec = {
    header: {
      formatVersion: 1,
      kind: "text-classifier",
      model: "logistic-regression",
      positiveClass: "unsafe (a harmful or offensive answer)",
      features: featuresHeader(settings),
      bias,
      calibration,
      training: {
        seed: options.seed,
        epochs: options.epochs,
        lr: options.lr,
        l2: options.l2,
        batchSize: options.batchSize,
        trainLoss: round4(trainLoss),
        data: {
          sources: summaries.map((s) => ({ ...s })),
          xstestHoldout: [...options.xstestHoldout],
          validationFraction: options.validationFraction,
          heldOut: Object.fromEntries(Object.entries(heldOut).map(([k, v]) => [k, v.length])),
        },
      },
      payloadFloats: w.length,
    },
    weights: w,
  };
  // Evaluate through the same scoring path the cost model uses (TextClassifier), calibrated and not.
  const calibratedModel = TextClassifier.fromSpec(spec, "trained classifier");
  const rawModel = TextClassifier.fromSpec(
    { header: { ...spec.header, calibration: { method: "none", scale: 1, shift: 0 } }, weights: w },
    "trained classifier",
  );
  const metrics: Record<string, BinaryMetrics> = {};
  const uncalibratedEce: Record<string, number> = {};
  const sets: Array<[string, LabeledText[]]> = [...Object.entries(heldOut), ["validation", validationTexts]];
  for (const [name, texts] of sets) {
    const labels = texts.map((t) => t.label);
    const textsOnly = texts.map((t) => t.text);
    metrics[name] = binaryMetrics(calibratedModel.score(textsOnly), labels);
    uncalibratedEce[name] = binaryMetrics(rawModel.score(textsOnly), labels).ece;
  }
  spec.header.metrics = metrics as Record<string, unknown>;
  hooks.onProgress?.("eval", 1, 1);
  const seconds = (performance.now() - started) / 1000;
  spec.header.training!.seconds = round4(seconds);
  // A stop asked for during the (synchronous) evaluation is seen here, before anything is returned to write.
  await yieldToEventLoop();
  if (hooks.signal?.aborted) throw new UserError(STOPPED);
  return { spec, sources: summaries, metrics, uncalibratedEce, seconds, trainLoss };
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

const answerLineSchema = z.object({ text: z.string() }).loose();

/** A JSON Lines file of {"text": ...} answers, all with one label; empty texts are skipped. */
export function loadAnswerTexts(path: string, label: 0 | 1, source: string): LabeledText[] {
  const out: LabeledText[] = [];
  readUserFile(path, "answers file", "utf8").split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      throw new UserError(`${path}: line ${i + 1} is not valid JSON: ${(error as Error).message}`);
    }
    const row = answerLineSchema.safeParse(json);
    if (!row.success) throw new UserError(`${path}: line ${i + 1}: ${describeZodError(row.error)}`);
    if (row.data.text.trim() !== "") out.push({ text: row.data.text, label, source });
  });
  return out;
}
