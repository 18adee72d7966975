// `inference-guard train-reward`: trains a helpfulness reward head on a chat model's own hidden
// states (src/reward/trainHead.ts) and writes it for `--reward head:FILE`.
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "../errors.js";
import { PACKAGE_ROOT } from "../paths.js";
import { readPromptsFile } from "../data/promptFile.js";
import { EVALUATION_SET_FILES } from "../data/splits.js";
import { writeHeadFile } from "../reward/headFormat.js";
import { DEFAULT_PER_QUESTION, normalise } from "../reward/rewardData.js";
import { TRAIN_HEAD_DEFAULTS, trainRewardHead } from "../reward/trainHead.js";
import { Progress } from "../util/progress.js";
import { flagHelp, int, readFlags, text, type FlagTable } from "./flagTable.js";
import { modelFlagOrDefault, modelHelp } from "./modelFlag.js";
import { onStopRequest } from "./stopRequests.js";
import { dataDir, epochs, fraction, l2, lr, maxExamples, seed, threads, validationFraction } from "./trainingFlags.js";

const d = TRAIN_HEAD_DEFAULTS;
/**
 * The committed evaluation sets (models/eval's SmolLM2 sets, models/testbed's): always excluded,
 * near copies too (the data builder enforces it whatever --exclude says; listed here so the head
 * file's excludedRequests counts them). --exclude adds files.
 */
export const DEFAULT_EXCLUDE = EVALUATION_SET_FILES.map((f) => join(PACKAGE_ROOT, f));

/** train-reward's flags (--model is modelFlag.ts's); defaults: the trainer's (TRAIN_HEAD_DEFAULTS). */
export const TRAIN_REWARD_FLAGS = {
  out: { metavar: "FILE", help: "head file to write (JSON, atomically)", required: "where to write the reward head" },
  "data-dir": dataDir({ help: "shared data folder", aliases: ["data"] }),
  exclude: {
    metavar: "FILE",
    help: "a prompts JSONL whose requests (and near copies) are never trained on,\nbesides the evaluation sets; repeatable\n",
    multiple: true,
    defaultText: "models/eval/smollm2-{harmful,harmless}.test.jsonl, models/testbed/assistant-{harmful,harmless}.test.jsonl",
  },
  "per-question": { metavar: "K", help: "GPTFuzz answers per question and label", parse: int(1), default: DEFAULT_PER_QUESTION },
  "max-examples": maxExamples("about N examples, whole requests drawn at random (a large\nmodel's feature pass is the cost: about 6,000 examples in all)"),
  "max-answer-tokens": { metavar: "T", help: "answers cut to T tokens", parse: int(1), default: d.maxAnswerTokens },
  prefixes: { metavar: "L,L,...", help: "answer prefix lengths read besides the whole answer", parse: prefixesFlag, default: d.prefixes, defaultText: d.prefixes.join(",") },
  epochs: epochs(d.fit.epochs, { help: "passes of Adam" }),
  lr: lr(d.fit.learningRate, { help: "Adam learning rate" }),
  l2: l2(d.fit.l2),
  // The held-out requests are the validation split of the other training commands: never trained
  // on, only measured (whole request groups, so no held-out request is in training).
  "validation-fraction": validationFraction(d.heldOutFraction, {
    help: "share of requests held out of training for the metrics\n(whole request groups)",
    parse: fraction(0.5, false),
    aliases: ["held-out"],
  }),
  seed: seed(d.seed, { help: "seed of the data, split and shuffles" }),
  threads: threads(d.threads),
  json: { help: "print the metrics as one JSON object" },
} as const satisfies FlagTable;

const F = TRAIN_REWARD_FLAGS;

export const TRAIN_REWARD_HELP = `Usage: inference-guard train-reward --model GGUF --out HEAD.json [options]

Trains a helpfulness reward: a linear head on the chat model's last-token final hidden state that
prefers an answer taking the request on over a refusal, an answer to another request, or word
salad, on answer prefixes as the search scores them. Use it with --reward head:HEAD.json. On the
model it was trained for it reads the search's own hidden states (no extra decode); with another
policy it runs its backbone in its own context. Data: GPTFuzz responses_train, the XSTest answers
of five models and hh-rlhf's one-turn chosen/rejected pairs from ../shared/data, only requests on
the train side of models/splits and never a near copy of an evaluation set's.

${modelHelp(25, "always", "chat GGUF whose hidden states the head reads")}
${flagHelp(F)}
  -h, --help             this help
`;

export async function trainRewardCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { help, values: v, raw } = readFlags(F, argv, (line) => err.write(`inference-guard train-reward: ${line}\n`), { model: { type: "string" } });
  if (help) {
    out.write(TRAIN_REWARD_HELP);
    return 0;
  }
  const outFile = v.out;
  const modelPath = resolve(modelFlagOrDefault(raw, true));
  if (!existsSync(modelPath)) throw new UserError(`model file not found: ${modelPath}`);
  const dataDir = resolve(v["data-dir"]);
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) throw new UserError(`data folder not found: ${dataDir}`);
  const excludeFiles = [...DEFAULT_EXCLUDE, ...v.exclude];
  const exclude = new Set(excludeFiles.flatMap((f) => readPromptsFile(resolve(f))).map(normalise));
  // Ctrl-C / SIGTERM: stop at the next batch, write nothing (a second signal exits at once).
  const controller = new AbortController();
  const removeStopListeners = onStopRequest(() => controller.abort());
  let bar: Progress | undefined;
  let phase = "";
  let ticked = 0;
  const result = await trainRewardHead({
    modelPath,
    dataDir,
    exclude,
    outPath: outFile,
    seed: v.seed,
    heldOutFraction: v["validation-fraction"],
    prefixes: v.prefixes,
    maxAnswerTokens: v["max-answer-tokens"],
    perQuestion: v["per-question"],
    maxExamples: v["max-examples"],
    fit: { ...d.fit, epochs: v.epochs, learningRate: v.lr, l2: v.l2 },
    threads: v.threads,
    signal: controller.signal,
    onProgress(p, done, total) {
      if (p !== phase) {
        bar?.finish();
        bar = new Progress(total, { unit: p === "features" ? "states" : "epochs", label: `train-reward ${p}`, stream: err });
        phase = p;
        ticked = 0;
      }
      bar!.tick(done - ticked);
      ticked = done;
    },
  }).finally(removeStopListeners);
  bar?.finish();
  result.head.training = { ...result.head.training, createdAt: new Date().toISOString(), command: ["inference-guard", "train-reward", ...argv], seconds: Math.round(result.seconds) };
  writeHeadFile(resolve(outFile), result.head);
  if (v.json) out.write(JSON.stringify({ out: resolve(outFile), examples: result.examples, seconds: result.seconds, metrics: result.metrics }) + "\n");
  else {
    out.write(`wrote ${resolve(outFile)} (${result.examples} examples, ${result.seconds.toFixed(1)} s)\n`);
    for (const [split, m] of Object.entries(result.metrics)) {
      out.write(
        `${split}: AUC all prefixes ${m.aucAllPrefixes}, compliance vs refusal ${m.aucComplianceVsRefusal} (first 8 tokens ${m.aucComplianceVsRefusalAt8}); ` +
          `pairwise vs refusal ${m.pairwise.refusal.accuracy} (${m.pairwise.refusal.pairs}), vs off-topic ${m.pairwise["off-topic"].accuracy} (${m.pairwise["off-topic"].pairs}), ` +
          `vs salad ${m.pairwise.salad.accuracy} (${m.pairwise.salad.pairs}), hh-rlhf chosen vs rejected ${m.pairwise["hh-rejected"].accuracy} (${m.pairwise["hh-rejected"].pairs})\n`,
      );
    }
  }
  return 0;
}

/** "8,16,32" -> [8, 16, 32]; each a whole number >= 1. */
function prefixesFlag(values: Record<string, unknown>, name: string): number[] | undefined {
  const raw = text(values, name);
  if (raw === undefined) return undefined;
  const list = raw.split(",").map((t) => t.trim());
  if (list.some((t) => !/^[1-9][0-9]*$/.test(t))) throw new UserError(`--${name} takes whole numbers >= 1 separated by commas, got "${raw}"`);
  return list.map(Number);
}
