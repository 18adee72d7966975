// `inference-guard train-cost`: trains the text classifier behind the "classifier" cost model on
// the shared safety data, prints and saves its held-out metrics, and writes the model file.
import { existsSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { writeClassifierFile, MAX_BUCKET_BITS, MIN_BUCKET_BITS } from "../cost/classifier/classifierFormat.js";
import type { BinaryMetrics } from "../cost/classifier/classifierMetrics.js";
import { UserError } from "../errors.js";
import { PACKAGE_ROOT, SHARED_DIR } from "../paths.js";
import { XSTEST_MODELS, type XsTestModel } from "../data/datasets.js";
import {
  DEFAULT_TRAIN_OPTIONS,
  MIX_SOURCES,
  type MixSource,
  type TrainClassifierOptions,
  trainClassifier,
} from "../cost/classifier/trainClassifier.js";
import { writeFileAtomic } from "../util/files.js";
import { Progress } from "../util/progress.js";
import { choiceFlag, numberFlag, parseFlags, stringFlag, type OptionSpec } from "./args.js";

const D = DEFAULT_TRAIN_OPTIONS;
const DEFAULT_DATA = join(SHARED_DIR, "data");
/** As --help shows it: beside the package, the same on every machine (../shared/data). */
const DEFAULT_DATA_SHOWN = relative(PACKAGE_ROOT, DEFAULT_DATA);

/** Targets from the issue: the run reports whether it met them. */
const TARGETS: Record<string, number> = { "gptfuzz-evaluate": 0.95, "xstest-heldout": 0.85 };

export const TRAIN_COST_HELP = `Usage: inference-guard train-cost --out FILE [options]

Trains the harm classifier used by the cost model spec classifier:FILE: logistic regression on
hashed word n-grams and character n-grams, trained in C++. Prints and saves held-out metrics:
ROC-AUC, accuracy, Brier score and calibration (ECE) on GPTFuzz responses_evaluate.csv and on the
XSTest answers of the held-out models, which are never trained on. See docs/cost-models.md.

Data:
  --data DIR             shared data folder holding safety/ and toxicity/ (default: ${DEFAULT_DATA_SHOWN})
  --mix SRC=W,...        share of the training loss per source; 0 leaves one out. Sources:
                         ${MIX_SOURCES.join(", ")}
                         (default ${MIX_SOURCES.map((s) => `${s}=${D.mix[s]}`).join(",")})
  --harmless-answers FILE  JSON Lines of {"text"} compliant answers to harmless requests, label 0
                         (default: ${relative(PACKAGE_ROOT, D.harmlessAnswers)}, the tiny assistant's own)
  --harmful-answers FILE   the same for answers to harmful requests, label 1
                         (default: ${relative(PACKAGE_ROOT, D.harmfulAnswers)})
  --xstest-holdout M,..  XSTest models whose answers are held out for testing, or "none"
                         (default ${D.xstestHoldout.join(",")}; models: ${XSTEST_MODELS.join(", ")})
  --validation-fraction F  share of each source kept out for calibration (default ${D.validationFraction})

Features:
  --buckets B            hash buckets, a power of two from ${2 ** MIN_BUCKET_BITS} to ${2 ** MAX_BUCKET_BITS} (default ${2 ** D.bucketBits}; the
                         model file holds one float per bucket)
  --word-ngrams N        1 words, 2 + word pairs, 3 + word triples (default ${D.wordNgrams})
  --char-ngrams MIN-MAX  character n-gram lengths within words, or 0 for none (default ${D.charMin}-${D.charMax})
  --char-weight W        value of a character n-gram relative to a word feature (default ${D.charWeight})

Training:
  --epochs E             passes over the data (default ${D.epochs})
  --lr X                 AdaGrad learning rate (default ${D.lr})
  --l2 X                 L2 penalty (default ${D.l2})
  --batch-size N         minibatch size (default ${D.batchSize})
  --seed S               seed of the shuffles and the validation split (default ${D.seed})
  --calibration C        none: keep the model's probabilities; platt: rescale them to fit the
                         validation answers (default ${D.calibration}; the report shows both ECEs)

Output:
  --out FILE             model file to write (required; written atomically)
  --metrics FILE         also write the metrics as JSON (atomically)
  --json                 print the metrics as one JSON object instead of a table
  -h, --help             this help
`;

const OPTIONS: OptionSpec = {
  data: { type: "string" },
  mix: { type: "string" },
  "xstest-holdout": { type: "string" },
  "harmless-answers": { type: "string" },
  "harmful-answers": { type: "string" },
  "validation-fraction": { type: "string" },
  buckets: { type: "string" },
  "word-ngrams": { type: "string" },
  "char-ngrams": { type: "string" },
  "char-weight": { type: "string" },
  epochs: { type: "string" },
  lr: { type: "string" },
  l2: { type: "string" },
  "batch-size": { type: "string" },
  seed: { type: "string" },
  calibration: { type: "string" },
  out: { type: "string" },
  metrics: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

export async function trainCostCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const v = parseFlags(argv, OPTIONS);
  if (v.help) {
    out.write(TRAIN_COST_HELP);
    return 0;
  }
  const outFile = stringFlag(v, "out");
  if (outFile === undefined || outFile === "") throw new UserError("--out FILE is required: where to write the model (see --help)");
  const options = readOptions(v);
  const metricsFile = stringFlag(v, "metrics");

  let bar: Progress | undefined;
  let ticked = 0;
  const result = trainClassifier(options, {
    onProgress(phase, done, total, note) {
      if (phase !== "train") return;
      bar ??= new Progress(total, { unit: "batches", label: "train-cost", stream: err });
      bar.tick(done - ticked, note);
      ticked = done;
    },
  });
  bar?.finish();
  result.spec.header.training = {
    ...result.spec.header.training,
    createdAt: new Date().toISOString(),
    command: ["inference-guard", "train-cost", ...argv],
    data: { ...result.spec.header.training?.data, dir: options.dataDir },
  };
  const file = resolve(outFile);
  writeClassifierFile(file, result.spec);
  const report = {
    model: file,
    seconds: Math.round(result.seconds * 10) / 10,
    trainLoss: result.trainLoss,
    calibration: result.spec.header.calibration,
    sources: result.sources,
    metrics: result.metrics,
    uncalibratedEce: result.uncalibratedEce,
    targets: Object.fromEntries(
      Object.entries(TARGETS)
        .filter(([name]) => result.metrics[name] !== undefined)
        .map(([name, target]) => [name, { rocAuc: result.metrics[name]!.rocAuc, target, met: result.metrics[name]!.rocAuc >= target }]),
    ),
  };
  if (metricsFile !== undefined) writeFileAtomic(resolve(metricsFile), JSON.stringify(report, null, 2) + "\n");
  out.write(v.json ? JSON.stringify(report) + "\n" : formatReport(report.sources, result.metrics, result.uncalibratedEce, file, result.seconds));
  return 0;
}

function readOptions(v: Record<string, unknown>): TrainClassifierOptions {
  const dataDir = resolve(stringFlag(v, "data") ?? DEFAULT_DATA);
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) {
    throw new UserError(`data folder not found: ${dataDir} (expected safety/ and toxicity/ inside; see --help)`);
  }
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    if (!(value > 0)) throw new UserError(`--${name} must be > 0, got ${value}`);
    return value;
  };
  const buckets = numberFlag(v, "buckets", "int");
  let bucketBits = D.bucketBits;
  if (buckets !== undefined) {
    bucketBits = Math.log2(buckets);
    if (!Number.isInteger(bucketBits) || bucketBits < MIN_BUCKET_BITS || bucketBits > MAX_BUCKET_BITS) {
      throw new UserError(`--buckets must be a power of two from ${2 ** MIN_BUCKET_BITS} to ${2 ** MAX_BUCKET_BITS}, got ${buckets}`);
    }
  }
  const wordNgrams = numberFlag(v, "word-ngrams", "int") ?? D.wordNgrams;
  if (wordNgrams < 1 || wordNgrams > 3) throw new UserError(`--word-ngrams must be 1, 2 or 3, got ${wordNgrams}`);
  let charMin = D.charMin;
  let charMax = D.charMax;
  const chars = stringFlag(v, "char-ngrams");
  if (chars !== undefined) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(chars);
    if (m === null) throw new UserError(`--char-ngrams expects MIN-MAX (e.g. 3-5) or 0, got "${chars}"`);
    charMin = Number(m[1]);
    charMax = m[2] === undefined ? charMin : Number(m[2]);
    if (!((charMin === 0 && charMax === 0) || (charMin >= 2 && charMax >= charMin && charMax <= 8))) {
      throw new UserError(`--char-ngrams needs 2 <= MIN <= MAX <= 8, or 0 for none; got "${chars}"`);
    }
  }
  const validationFraction = numberFlag(v, "validation-fraction") ?? D.validationFraction;
  if (!(validationFraction > 0 && validationFraction < 0.5)) {
    throw new UserError(`--validation-fraction must be in (0, 0.5), got ${validationFraction}`);
  }
  const seed = numberFlag(v, "seed", "int") ?? D.seed;
  if (seed < 0 || seed > 0xffffffff) throw new UserError(`--seed must be an integer from 0 to 4294967295, got ${seed}`);
  const epochs = numberFlag(v, "epochs", "int") ?? D.epochs;
  if (epochs < 1) throw new UserError(`--epochs must be >= 1, got ${epochs}`);
  const l2 = numberFlag(v, "l2") ?? D.l2;
  if (l2 < 0) throw new UserError(`--l2 must be >= 0, got ${l2}`);
  return {
    dataDir,
    epochs,
    seed,
    bucketBits,
    wordNgrams,
    charMin,
    charMax,
    charWeight: positive("char-weight", numberFlag(v, "char-weight"), D.charWeight),
    lr: positive("lr", numberFlag(v, "lr"), D.lr),
    l2,
    batchSize: positive("batch-size", numberFlag(v, "batch-size", "int"), D.batchSize),
    mix: parseMix(stringFlag(v, "mix")),
    harmlessAnswers: resolve(stringFlag(v, "harmless-answers") ?? D.harmlessAnswers),
    harmfulAnswers: resolve(stringFlag(v, "harmful-answers") ?? D.harmfulAnswers),
    xstestHoldout: parseHoldout(stringFlag(v, "xstest-holdout")),
    validationFraction,
    calibration: choiceFlag(v, "calibration", ["none", "platt"] as const) ?? D.calibration,
  };
}

/** "gptfuzz=0.6,davidson=0" over the default mix. */
export function parseMix(raw: string | undefined): Record<MixSource, number> {
  const mix = { ...D.mix };
  if (raw === undefined) return mix;
  for (const part of raw.split(",")) {
    const m = /^\s*([a-z-]+)\s*=\s*([^\s]+)\s*$/.exec(part);
    if (m === null) throw new UserError(`--mix expects SOURCE=WEIGHT,... (e.g. gptfuzz=0.6,davidson=0), got "${part}"`);
    const [, name, value] = m;
    if (!(MIX_SOURCES as readonly string[]).includes(name!)) {
      throw new UserError(`--mix: unknown source "${name}" (sources: ${MIX_SOURCES.join(", ")})`);
    }
    const w = Number(value);
    if (!Number.isFinite(w) || w < 0) throw new UserError(`--mix: weight of ${name} must be a number >= 0, got "${value}"`);
    mix[name as MixSource] = w;
  }
  if (!Object.values(mix).some((w) => w > 0)) throw new UserError("--mix gives every source weight 0");
  return mix;
}

function parseHoldout(raw: string | undefined): XsTestModel[] {
  if (raw === undefined) return [...D.xstestHoldout];
  if (raw.trim() === "none") return [];
  const models = raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  for (const m of models) {
    if (!(XSTEST_MODELS as readonly string[]).includes(m)) {
      throw new UserError(`--xstest-holdout: unknown model "${m}" (models: ${XSTEST_MODELS.join(", ")}, or none)`);
    }
  }
  if (models.length === XSTEST_MODELS.length) throw new UserError("--xstest-holdout would hold out every XSTest model: keep at least one for training");
  return models as XsTestModel[];
}

function formatReport(
  sources: Array<{ name: string; rows: number; unsafe: number; validationRows: number; weight: number }>,
  metrics: Record<string, BinaryMetrics>,
  uncalibratedEce: Record<string, number>,
  file: string,
  seconds: number,
): string {
  const lines: string[] = [];
  lines.push(`wrote ${file} (${seconds.toFixed(1)} s)`, "", "training sources:");
  lines.push(`  ${"source".padEnd(18)} ${"rows".padStart(7)} ${"unsafe".padStart(7)} ${"val".padStart(6)} ${"share".padStart(6)}`);
  for (const s of sources) {
    lines.push(`  ${s.name.padEnd(18)} ${String(s.rows).padStart(7)} ${String(s.unsafe).padStart(7)} ${String(s.validationRows).padStart(6)} ${s.weight.toFixed(2).padStart(6)}`);
  }
  lines.push("", "metrics of the saved model's P(unsafe) (ECE raw: before calibration, the same with --calibration none):");
  lines.push(`  ${"set".padEnd(22)} ${"n".padStart(5)} ${"unsafe".padStart(6)} ${"ROC-AUC".padStart(8)} ${"acc".padStart(6)} ${"Brier".padStart(6)} ${"ECE".padStart(6)} ${"ECE raw".padStart(8)}`);
  for (const [name, m] of Object.entries(metrics)) {
    const target = TARGETS[name];
    const verdict = target === undefined ? "" : m.rocAuc >= target ? `  (target >= ${target}: met)` : `  (target >= ${target}: NOT met)`;
    lines.push(
      `  ${name.padEnd(22)} ${String(m.n).padStart(5)} ${String(m.unsafe).padStart(6)} ${m.rocAuc.toFixed(4).padStart(8)} ${m.accuracy.toFixed(3).padStart(6)} ` +
        `${m.brier.toFixed(3).padStart(6)} ${m.ece.toFixed(3).padStart(6)} ${(uncalibratedEce[name] ?? NaN).toFixed(3).padStart(8)}${verdict}`,
    );
  }
  return lines.join("\n") + "\n";
}
