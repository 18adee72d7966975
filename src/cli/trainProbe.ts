// `inference-guard train-probe`: trains a latent probe (a cost model on the base model's own hidden
// states) from labelled texts and writes it as a probe file for `--cost probe:FILE`.
import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { UserError } from "../errors.js";
import { writeProbeFile } from "../cost/probe/probeFormat.js";
import { loadDavidson, loadGptFuzz, loadPromptSet, loadXsTestAnswers, loadXsTestPrompts, XSTEST_MODELS } from "../data/datasets.js";
import { TRAIN_PROBE_DEFAULTS, readProbeExamples, trainProbe, type PoolingChoice, type ProbeExample } from "../cost/probe/trainProbe.js";
import { choice, flagHelp, int, readFlags, type FlagTable } from "./flagTable.js";
import { batchSize, dataDir, epochs, l2, lr, maxExamples, seed, threads, validationFraction } from "./trainingFlags.js";
import { modelFlagOrDefault, modelHelp } from "./modelFlag.js";
import { onStopRequest } from "./stopRequests.js";

const DATASETS = ["gptfuzz", "xstest", "davidson", "prompts"] as const;
type DatasetName = (typeof DATASETS)[number];

const d = TRAIN_PROBE_DEFAULTS;

const POOLINGS: readonly PoolingChoice[] = ["last", "mean", "auto"];

/** train-probe's flags (--model is modelFlag.ts's). */
export const TRAIN_PROBE_FLAGS = {
  data: { metavar: "FILE", help: 'JSON Lines, one {"text": "...", "label": 0 or 1} per line (1 = unsafe)' },
  dataset: {
    metavar: "NAME",
    help: [
      "instead of --data, a labelled set under --data-dir:",
      "  gptfuzz  (GPTFuzz judge answers, train split; 1 = harmful answer)",
      "  xstest   (XSTest v2 answers of all five models; 1 = complies with an unsafe prompt)",
      "  davidson (tweets; 1 = hate or offensive)",
      "  prompts  (harmful vs harmless instructions, train splits)",
    ].join("\n"),
    parse: choice(DATASETS),
  },
  "data-dir": dataDir(),
  "max-examples": maxExamples("use a seeded random subset of N examples, labels in proportion"),
  "max-tokens": { metavar: "T", help: "tokens of each text read in training, BOS included", parse: int(), default: d.maxTokens },
  pooling: {
    metavar: "P",
    help: "last (last token's hidden state), mean (mean over tokens) or auto (fit both\non part of the training split, keep the one with the better AUC on the rest;\nlast on a near tie)",
    parse: choice(POOLINGS),
    default: d.pooling,
  },
  epochs: epochs(d.epochs),
  lr: lr(d.learningRate, { help: "Adam learning rate" }),
  l2: l2(d.l2),
  "batch-size": batchSize(d.batchSize, { help: "examples per Adam step" }),
  "validation-fraction": validationFraction(d.validationFraction, { help: "share of each label held out for validation", aliases: ["val-fraction"] }),
  seed: seed(d.seed, { help: "seeds the split, subset and shuffles: the same seed gives the same probe" }),
  out: { metavar: "FILE", help: "the probe file to write (JSON; written atomically)", required: true },
  threads: threads(1, { help: "llama.cpp threads for the feature pass" }),
  json: { help: "print the metrics as one JSON object instead of text" },
} as const satisfies FlagTable;

export const TRAIN_PROBE_HELP = `Usage: inference-guard train-probe (--data FILE.jsonl | --dataset NAME) --out PROBE.json [options]

Trains a latent probe: a logistic regression on the model's own last-layer hidden states that
gives P(unsafe | text). Use it as a cost model with --cost probe:PROBE.json; it runs on its own
llama.cpp context of the same GGUF. Prints the validation AUC and accuracy.

Input:
${modelHelp(25, "never", "GGUF whose hidden states the probe reads")}.
                         The probe records its sha256 and only runs on that exact file.
${flagHelp(TRAIN_PROBE_FLAGS, ["data", "dataset", "data-dir", "max-examples", "max-tokens"])}

Probe:
${flagHelp(TRAIN_PROBE_FLAGS, ["pooling", "epochs", "lr", "l2", "batch-size", "validation-fraction", "seed"])}

Output and runtime:
${flagHelp(TRAIN_PROBE_FLAGS, ["out", "threads", "json"])}
  -h, --help             this help
`;

export async function trainProbeCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { help, values: v, raw } = readFlags(TRAIN_PROBE_FLAGS, argv, (line) => err.write(`inference-guard train-probe: ${line}\n`), { model: { type: "string" } });
  if (help) {
    out.write(TRAIN_PROBE_HELP);
    return 0;
  }
  const outPath = v.out;
  const outDir = dirname(resolve(outPath));
  if (!existsSync(outDir) || !statSync(outDir).isDirectory()) throw new UserError(`output folder does not exist: ${outDir}`);
  const dataPath = v.data;
  const dataset = v.dataset;
  if ((dataPath === undefined) === (dataset === undefined)) throw new UserError("give exactly one of --data FILE.jsonl and --dataset NAME (see --help)");
  const options = {
    epochs: v.epochs,
    learningRate: v.lr,
    l2: v.l2,
    batchSize: v["batch-size"],
    validationFraction: v["validation-fraction"],
    seed: v.seed,
    maxTokens: v["max-tokens"],
    maxExamples: v["max-examples"],
    threads: v.threads,
  };
  const modelPath = resolve(modelFlagOrDefault(raw));

  const examples = dataPath !== undefined ? readProbeExamples(resolve(dataPath)) : loadDataset(dataset!, resolve(v["data-dir"]));
  const dataName = dataPath !== undefined ? resolve(dataPath) : `dataset:${dataset}`;
  if (examples.length === 0) throw new UserError(`no examples in ${dataName}`);

  // Ctrl-C / SIGTERM: stop at the next chunk of the feature pass or the next fit, write nothing
  // (a second signal exits at once).
  const controller = new AbortController();
  const removeStopListeners = onStopRequest(() => controller.abort());
  const result = await trainProbe({
    modelPath,
    examples,
    outPath,
    pooling: v.pooling,
    ...options,
    progress: err,
    dataName,
    command: ["train-probe", ...argv],
    signal: controller.signal,
  }).finally(removeStopListeners);
  writeProbeFile(outPath, result.probe);
  const { validation, train } = result.probe.metrics;
  if (v.json) {
    out.write(JSON.stringify({ out: resolve(outPath), pooling: result.probe.pooling, validation, train, comparison: result.comparison, seconds: result.seconds }) + "\n");
    return 0;
  }
  const t = result.probe.training!;
  out.write(`data: ${t.examples} examples (${t.unsafe} unsafe) from ${dataName}: ${t.trainExamples} train, ${t.validationExamples} validation\n`);
  if (result.comparison) {
    const c = result.comparison;
    out.write(
      `pooling: last AUC ${fmt(c.selectionAuc.last)} vs mean AUC ${fmt(c.selectionAuc.mean)} on a held-out part of train -> ${c.chosen} ` +
        `(validation AUC: last ${fmt(c.validationAuc.last)}, mean ${fmt(c.validationAuc.mean)})\n`,
    );
  }
  out.write(`train: AUC ${fmt(train!.auc)}, accuracy ${fmt(train!.accuracy)}\n`);
  out.write(`validation: AUC ${fmt(validation!.auc)}, accuracy ${fmt(validation!.accuracy)}, log-loss ${fmt(validation!.logLoss)} (${validation!.examples} examples)\n`);
  out.write(`wrote ${resolve(outPath)} (pooling ${result.probe.pooling}, ${result.seconds.toFixed(1)} s)\n`);
  return 0;
}

/** A labelled set under the shared data folder (loaders in src/data/datasets.ts). */
function loadDataset(name: DatasetName, dataDir: string): ProbeExample[] {
  const plain = (xs: ReadonlyArray<{ text: string; label: 0 | 1 }>): ProbeExample[] =>
    xs.filter((x) => x.text.trim() !== "").map(({ text, label }) => ({ text, label }));
  switch (name) {
    case "gptfuzz":
      return plain(loadGptFuzz(dataDir, "train"));
    case "xstest": {
      const prompts = loadXsTestPrompts(dataDir);
      return plain(XSTEST_MODELS.flatMap((m) => loadXsTestAnswers(dataDir, m, prompts)));
    }
    case "davidson":
      return plain(loadDavidson(dataDir));
    case "prompts":
      return plain([...loadPromptSet(dataDir, "harmful", "train"), ...loadPromptSet(dataDir, "harmless", "train")]);
  }
}

function fmt(x: number | null | undefined): string {
  return x === null || x === undefined ? "n/a" : x.toFixed(3);
}
