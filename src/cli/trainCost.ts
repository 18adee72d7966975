// `inference-guard train-cost`: trains the text classifier behind the "classifier" cost model on
// the shared safety data, prints and saves its held-out metrics, and writes the model file.
import { existsSync, statSync } from "node:fs";
import { relative, resolve } from "node:path";
import { writeClassifierFile, MAX_BUCKET_BITS, MIN_BUCKET_BITS } from "../cost/classifier/classifierFormat.js";
import type { BinaryMetrics } from "../cost/classifier/classifierMetrics.js";
import { UserError } from "../errors.js";
import { PACKAGE_ROOT } from "../paths.js";
import { XSTEST_MODELS, type XsTestModel } from "../data/datasets.js";
import {
  DEFAULT_TRAIN_OPTIONS,
  MIX_SOURCES,
  type MixSource,
  type TrainClassifierOptions,
  trainClassifier,
} from "../cost/classifier/trainClassifier.js";
import { writeFileAtomic } from "../util/files.js";
import { onStopRequest } from "./stopRequests.js";
import { Progress } from "../util/progress.js";
import { choice, flagHelp, int, readFlags, text, type FlagTable, type FlagValues } from "./flagTable.js";
import { batchSize, dataDir, epochs, fraction, l2, lr, positive, seed, validationFraction } from "./trainingFlags.js";

const D = DEFAULT_TRAIN_OPTIONS;

/** Targets from the issue: the run reports whether it met them. */
const TARGETS: Record<string, number> = { "gptfuzz-evaluate": 0.95, "xstest-heldout": 0.85 };

/** train-cost's flags; the shared training ones are trainingFlags.ts's. Defaults: the trainer's own (DEFAULT_TRAIN_OPTIONS). */
export const TRAIN_COST_FLAGS = {
  "data-dir": dataDir({ help: "shared data folder holding safety/ and toxicity/\n", aliases: ["data"] }),
  mix: {
    metavar: "SRC=W,...",
    help: `share of the training loss per source; 0 leaves one out. Sources:\n${MIX_SOURCES.join(", ")}\n`,
    parse: (values: Record<string, unknown>, name: string) => parseMix(text(values, name)),
    default: D.mix,
    defaultText: MIX_SOURCES.map((s) => `${s}=${D.mix[s]}`).join(","),
  },
  "harmless-answers": {
    metavar: "FILE",
    help: 'JSON Lines of {"text"} compliant answers to harmless requests, label 0\n',
    default: D.harmlessAnswers,
    defaultText: `${relative(PACKAGE_ROOT, D.harmlessAnswers)}, the tiny assistant's own`,
  },
  "harmful-answers": { metavar: "FILE", help: "the same for answers to harmful requests, label 1\n", default: D.harmfulAnswers, defaultText: relative(PACKAGE_ROOT, D.harmfulAnswers) },
  "xstest-holdout": {
    metavar: "M,..",
    help: `XSTest models whose answers are held out for testing, or "none"\n(models: ${XSTEST_MODELS.join(", ")})`,
    parse: (values: Record<string, unknown>, name: string) => parseHoldout(text(values, name)),
    default: D.xstestHoldout as readonly XsTestModel[],
    defaultText: D.xstestHoldout.join(","),
  },
  "validation-fraction": validationFraction(D.validationFraction, { help: "share of each source kept out for calibration and the metrics", parse: fraction(0.5, false) }),
  buckets: {
    metavar: "B",
    help: `hash buckets, a power of two from ${2 ** MIN_BUCKET_BITS} to ${2 ** MAX_BUCKET_BITS}\n(the model file holds one float per bucket)`,
    parse: bucketsFlag,
    default: 2 ** D.bucketBits,
  },
  "word-ngrams": { metavar: "N", help: "1 words, 2 + word pairs, 3 + word triples", parse: wordNgramsFlag, default: D.wordNgrams },
  "char-ngrams": {
    metavar: "MIN-MAX",
    help: "character n-gram lengths within words, or 0 for none",
    parse: charNgramsFlag,
    default: { min: D.charMin, max: D.charMax } as CharNgrams,
    defaultText: `${D.charMin}-${D.charMax}`,
  },
  "char-weight": { metavar: "W", help: "value of a character n-gram relative to a word feature", parse: positive, default: D.charWeight },
  epochs: epochs(D.epochs, { help: "passes over the data" }),
  lr: lr(D.lr, { help: "AdaGrad learning rate" }),
  l2: l2(D.l2, { help: "L2 penalty" }),
  "batch-size": batchSize(D.batchSize, { help: "minibatch size" }),
  seed: seed(D.seed, { help: "seed of the shuffles and the validation split", parse: seedFlag }),
  calibration: {
    metavar: "C",
    help: "none: keep the model's probabilities; platt: rescale them to fit the\nvalidation answers (the report shows both ECEs)",
    parse: choice(["none", "platt"] as const),
    default: D.calibration,
  },
  out: { metavar: "FILE", help: "model file to write (written atomically)", required: "where to write the model" },
  metrics: { metavar: "FILE", help: "also write the metrics as JSON (atomically)" },
  json: { help: "print the metrics as one JSON object instead of a table" },
} as const satisfies FlagTable;

const F = TRAIN_COST_FLAGS;

export const TRAIN_COST_HELP = `Usage: inference-guard train-cost --out FILE [options]

Trains the harm classifier used by the cost model spec classifier:FILE: logistic regression on
hashed word n-grams and character n-grams, trained in C++. Prints and saves held-out metrics:
ROC-AUC, accuracy, Brier score and calibration (ECE) on GPTFuzz responses_evaluate.csv and on the
XSTest answers of the held-out models, which are never trained on. See docs/cost-models.md.

Data:
${flagHelp(F, ["data-dir", "mix", "harmless-answers", "harmful-answers", "xstest-holdout", "validation-fraction"])}

Features:
${flagHelp(F, ["buckets", "word-ngrams", "char-ngrams", "char-weight"])}

Training:
${flagHelp(F, ["epochs", "lr", "l2", "batch-size", "seed", "calibration"])}

Output:
${flagHelp(F, ["out", "metrics", "json"])}
  -h, --help             this help
`;

export async function trainCostCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { help, values: v } = readFlags(F, argv, (line) => err.write(`inference-guard train-cost: ${line}\n`));
  if (help) {
    out.write(TRAIN_COST_HELP);
    return 0;
  }
  const options = trainOptions(v);
  const metricsFile = v.metrics;

  let bar: Progress | undefined;
  let ticked = 0;
  // Ctrl-C / SIGTERM: stop before the next run of batches, write nothing (a second signal exits at once).
  const controller = new AbortController();
  const removeStopListeners = onStopRequest(() => controller.abort());
  const result = await trainClassifier(options, {
    onProgress(phase, done, total, note) {
      if (phase !== "train") return;
      bar ??= new Progress(total, { unit: "batches", label: "train-cost", stream: err });
      bar.tick(done - ticked, note);
      ticked = done;
    },
    signal: controller.signal,
  }).finally(removeStopListeners);
  bar?.finish();
  result.spec.header.training = {
    ...result.spec.header.training,
    createdAt: new Date().toISOString(),
    command: ["inference-guard", "train-cost", ...argv],
    data: { ...result.spec.header.training?.data, dir: options.dataDir },
  };
  const file = resolve(v.out);
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

/** The trainer's options from the flags (every default is the table's, that is the trainer's). */
export function trainOptions(v: FlagValues<typeof TRAIN_COST_FLAGS>): TrainClassifierOptions {
  const dataDir = resolve(v["data-dir"]);
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) {
    throw new UserError(`data folder not found: ${dataDir} (expected safety/ and toxicity/ inside; see --help)`);
  }
  return {
    dataDir,
    epochs: v.epochs,
    seed: v.seed,
    bucketBits: Math.log2(v.buckets),
    wordNgrams: v["word-ngrams"],
    charMin: v["char-ngrams"].min,
    charMax: v["char-ngrams"].max,
    charWeight: v["char-weight"],
    lr: v.lr,
    l2: v.l2,
    batchSize: v["batch-size"],
    mix: { ...v.mix },
    harmlessAnswers: resolve(v["harmless-answers"]),
    harmfulAnswers: resolve(v["harmful-answers"]),
    xstestHoldout: [...v["xstest-holdout"]],
    validationFraction: v["validation-fraction"],
    calibration: v.calibration,
  };
}

interface CharNgrams {
  min: number;
  max: number;
}

function bucketsFlag(values: Record<string, unknown>, name: string): number | undefined {
  const buckets = int()(values, name);
  if (buckets === undefined) return undefined;
  const bits = Math.log2(buckets);
  if (!Number.isInteger(bits) || bits < MIN_BUCKET_BITS || bits > MAX_BUCKET_BITS) {
    throw new UserError(`--buckets must be a power of two from ${2 ** MIN_BUCKET_BITS} to ${2 ** MAX_BUCKET_BITS}, got ${buckets}`);
  }
  return buckets;
}

function wordNgramsFlag(values: Record<string, unknown>, name: string): number | undefined {
  const n = int()(values, name);
  if (n !== undefined && (n < 1 || n > 3)) throw new UserError(`--word-ngrams must be 1, 2 or 3, got ${n}`);
  return n;
}

function charNgramsFlag(values: Record<string, unknown>, name: string): CharNgrams | undefined {
  const chars = text(values, name);
  if (chars === undefined) return undefined;
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(chars);
  if (m === null) throw new UserError(`--char-ngrams expects MIN-MAX (e.g. 3-5) or 0, got "${chars}"`);
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (!((min === 0 && max === 0) || (min >= 2 && max >= min && max <= 8))) {
    throw new UserError(`--char-ngrams needs 2 <= MIN <= MAX <= 8, or 0 for none; got "${chars}"`);
  }
  return { min, max };
}

function seedFlag(values: Record<string, unknown>, name: string): number | undefined {
  const seed = int()(values, name);
  if (seed !== undefined && (seed < 0 || seed > 0xffffffff)) throw new UserError(`--seed must be an integer from 0 to 4294967295, got ${seed}`);
  return seed;
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
