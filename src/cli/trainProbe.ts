// `inference-guard train-probe`: trains a latent probe (a cost model on the base model's own hidden
// states) from labelled texts and writes it as a probe file for `--cost probe:FILE`.
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UserError } from "../errors.js";
import { SHARED_DIR } from "../paths.js";
import { writeProbeFile } from "../cost/probe/probeFormat.js";
import { loadDavidson, loadGptFuzz, loadPromptSet, loadXsTestAnswers, loadXsTestPrompts, XSTEST_MODELS } from "../data/datasets.js";
import { TRAIN_PROBE_DEFAULTS, readProbeExamples, trainProbe, type PoolingChoice, type ProbeExample } from "../cost/probe/trainProbe.js";
import { choiceFlag, numberFlag, parseFlags, stringFlag, type OptionSpec } from "./args.js";
import { modelFlagOrDefault, modelHelp } from "./modelFlag.js";

const DATASETS = ["gptfuzz", "xstest", "davidson", "prompts"] as const;
type DatasetName = (typeof DATASETS)[number];

const d = TRAIN_PROBE_DEFAULTS;

export const TRAIN_PROBE_HELP = `Usage: inference-guard train-probe (--data FILE.jsonl | --dataset NAME) --out PROBE.json [options]

Trains a latent probe: a logistic regression on the model's own last-layer hidden states that
gives P(unsafe | text). Use it as a cost model with --cost probe:PROBE.json; it runs on its own
llama.cpp context of the same GGUF. Prints the validation AUC and accuracy.

Input:
${modelHelp(25, "never", "GGUF whose hidden states the probe reads")}.
                         The probe records its sha256 and only runs on that exact file.
  --data FILE            JSON Lines, one {"text": "...", "label": 0 or 1} per line (1 = unsafe)
  --dataset NAME         instead of --data, a labelled set under --data-dir:
                           gptfuzz  (GPTFuzz judge answers, train split; 1 = harmful answer)
                           xstest   (XSTest v2 answers of all five models; 1 = complies with an unsafe prompt)
                           davidson (tweets; 1 = hate or offensive)
                           prompts  (harmful vs harmless instructions, train splits)
  --data-dir DIR         folder of the shared data (default: ../shared/data)
  --max-examples N       use a seeded random subset of N examples, labels in proportion (default: all)
  --max-tokens T         tokens of each text read in training, BOS included (default ${d.maxTokens})

Probe:
  --pooling P            last (last token's hidden state), mean (mean over tokens) or auto (fit both
                         on part of the training split, keep the one with the better AUC on the rest;
                         last on a near tie) (default ${d.pooling})
  --epochs E             passes over the training split (default ${d.epochs})
  --lr X                 Adam learning rate (default ${d.learningRate})
  --l2 X                 L2 penalty on the weights (default ${d.l2})
  --batch-size B         examples per Adam step (default ${d.batchSize})
  --val-fraction F       share of each label held out for validation (default ${d.validationFraction})
  --seed S               seeds the split, subset and shuffles: the same seed gives the same probe (default ${d.seed})

Output and runtime:
  --out FILE             the probe file to write (JSON; written atomically)
  --threads N            llama.cpp threads for the feature pass (default 1)
  --json                 print the metrics as one JSON object instead of text
  -h, --help             this help
`;

const OPTIONS: OptionSpec = {
  model: { type: "string" },
  data: { type: "string" },
  dataset: { type: "string" },
  "data-dir": { type: "string" },
  "max-examples": { type: "string" },
  "max-tokens": { type: "string" },
  pooling: { type: "string" },
  epochs: { type: "string" },
  lr: { type: "string" },
  l2: { type: "string" },
  "batch-size": { type: "string" },
  "val-fraction": { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  threads: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

export async function trainProbeCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const v = parseFlags(argv, OPTIONS);
  if (v.help) {
    out.write(TRAIN_PROBE_HELP);
    return 0;
  }
  const outPath = stringFlag(v, "out");
  if (!outPath) throw new UserError("--out FILE is required (see --help)");
  const outDir = dirname(resolve(outPath));
  if (!existsSync(outDir) || !statSync(outDir).isDirectory()) throw new UserError(`output folder does not exist: ${outDir}`);
  const dataPath = stringFlag(v, "data");
  const dataset = choiceFlag<DatasetName>(v, "dataset", DATASETS);
  if ((dataPath === undefined) === (dataset === undefined)) throw new UserError("give exactly one of --data FILE.jsonl and --dataset NAME (see --help)");
  const pooling = choiceFlag<PoolingChoice>(v, "pooling", ["last", "mean", "auto"]);
  const options = {
    epochs: numberFlag(v, "epochs", "int"),
    learningRate: numberFlag(v, "lr"),
    l2: numberFlag(v, "l2"),
    batchSize: numberFlag(v, "batch-size", "int"),
    validationFraction: numberFlag(v, "val-fraction"),
    seed: numberFlag(v, "seed", "int"),
    maxTokens: numberFlag(v, "max-tokens", "int"),
    maxExamples: numberFlag(v, "max-examples", "int"),
    threads: numberFlag(v, "threads", "int"),
  };
  if (options.threads !== undefined && options.threads < 1) throw new UserError("--threads must be at least 1");
  const modelPath = resolve(modelFlagOrDefault(v));

  const examples = dataPath !== undefined ? readProbeExamples(resolve(dataPath)) : loadDataset(dataset!, resolve(stringFlag(v, "data-dir") ?? join(SHARED_DIR, "data")));
  const dataName = dataPath !== undefined ? resolve(dataPath) : `dataset:${dataset}`;
  if (examples.length === 0) throw new UserError(`no examples in ${dataName}`);

  const result = await trainProbe({
    modelPath,
    examples,
    outPath,
    pooling,
    ...options,
    progress: err,
    dataName,
    command: ["train-probe", ...argv],
  });
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
