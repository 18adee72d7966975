// `inference-guard train-reward`: trains a helpfulness reward head on a chat model's own hidden
// states (src/reward/trainHead.ts) and writes it for `--reward head:FILE`.
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "../errors.js";
import { PACKAGE_ROOT, SHARED_DIR } from "../paths.js";
import { readPromptsFile } from "../data/promptFile.js";
import { writeHeadFile } from "../reward/headFormat.js";
import { normalise } from "../reward/rewardData.js";
import { TRAIN_HEAD_DEFAULTS, trainRewardHead } from "../reward/trainHead.js";
import { Progress } from "../util/progress.js";
import { numberFlag, parseFlags, stringFlag, type OptionSpec } from "./args.js";
import { modelFlagOrDefault, modelHelp } from "./modelFlag.js";
import { onStopRequest } from "./stopRequests.js";

const d = TRAIN_HEAD_DEFAULTS;
/** The efficacy evaluation's requests: never trained on by default. */
const DEFAULT_EXCLUDE = ["assistant-harmful.test.jsonl", "assistant-harmless.test.jsonl"].map((f) => join(PACKAGE_ROOT, "models", "testbed", f));

export const TRAIN_REWARD_HELP = `Usage: inference-guard train-reward --model GGUF --out HEAD.json [options]

Trains a helpfulness reward: a linear head on the chat model's last-token final hidden state that
prefers an answer taking the request on over a refusal, an answer to another request, or word
salad, on answer prefixes as the search scores them. Use it with --reward head:HEAD.json. On the
model it was trained for it reads the search's own hidden states (no extra decode); with another
policy it runs its backbone in its own context. Data: GPTFuzz responses_train, the XSTest answers
of four models and hh-rlhf's one-turn chosen/rejected pairs from ../shared/data (never the judge's:
GPTFuzz responses_evaluate, mistralinstruct).

${modelHelp(25, "always", "chat GGUF whose hidden states the head reads")}
  --out FILE             head file to write (JSON, atomically)
  --data DIR             shared data folder (default: ../shared/data)
  --exclude FILE         a prompts JSONL whose requests are never trained on; repeatable
                         (default: models/testbed/assistant-{harmful,harmless}.test.jsonl)
  --per-question K       GPTFuzz answers per question and label (default 12)
  --max-examples N       about N examples, whole requests drawn at random (default: all; a large
                         model's feature pass is the cost: about 6,000 examples in all)
  --max-answer-tokens T  answers cut to T tokens (default ${d.maxAnswerTokens})
  --prefixes L,L,...     answer prefix lengths read besides the whole answer (default ${d.prefixes.join(",")})
  --epochs E             passes of Adam (default ${d.fit.epochs})
  --lr X                 learning rate (default ${d.fit.learningRate})
  --l2 X                 L2 penalty (default ${d.fit.l2})
  --held-out F           share of requests held out for the metrics (default ${d.heldOutFraction})
  --seed S               seed of the data, split and shuffles (default ${d.seed})
  --threads N            llama.cpp threads (default ${d.threads})
  --json                 print the metrics as one JSON object
  -h, --help             this help
`;

const OPTIONS: OptionSpec = {
  model: { type: "string" },
  out: { type: "string" },
  data: { type: "string" },
  exclude: { type: "string", multiple: true },
  epochs: { type: "string" },
  "per-question": { type: "string" },
  "max-examples": { type: "string" },
  "max-answer-tokens": { type: "string" },
  prefixes: { type: "string" },
  lr: { type: "string" },
  l2: { type: "string" },
  "held-out": { type: "string" },
  seed: { type: "string" },
  threads: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

export async function trainRewardCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const v = parseFlags(argv, OPTIONS);
  if (v.help) {
    out.write(TRAIN_REWARD_HELP);
    return 0;
  }
  const outFile = stringFlag(v, "out");
  if (!outFile) throw new UserError("--out FILE is required: where to write the reward head (see --help)");
  const modelPath = resolve(modelFlagOrDefault(v, true));
  if (!existsSync(modelPath)) throw new UserError(`model file not found: ${modelPath}`);
  const dataDir = resolve(stringFlag(v, "data") ?? join(SHARED_DIR, "data"));
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) throw new UserError(`data folder not found: ${dataDir}`);
  const excludeFiles = (v.exclude as string[] | undefined) ?? DEFAULT_EXCLUDE.filter((f) => existsSync(f));
  const exclude = new Set(excludeFiles.flatMap((f) => readPromptsFile(resolve(f))).map(normalise));
  const positive = (name: string, fallback: number): number => {
    const x = numberFlag(v, name);
    if (x === undefined) return fallback;
    if (!(x > 0)) throw new UserError(`--${name} must be > 0, got ${x}`);
    return x;
  };
  const intAtLeast1 = (name: string): number | undefined => {
    const x = numberFlag(v, name, "int");
    if (x !== undefined && x < 1) throw new UserError(`--${name} must be at least 1, got ${x}`);
    return x;
  };
  const heldOut = positive("held-out", d.heldOutFraction);
  if (heldOut >= 0.5) throw new UserError(`--held-out must be below 0.5, got ${heldOut}`);
  const l2 = numberFlag(v, "l2") ?? d.fit.l2;
  if (l2 < 0) throw new UserError(`--l2 must be >= 0, got ${l2}`);
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
    seed: numberFlag(v, "seed", "int") ?? d.seed,
    heldOutFraction: heldOut,
    prefixes: prefixesFlag(stringFlag(v, "prefixes")) ?? d.prefixes,
    maxAnswerTokens: intAtLeast1("max-answer-tokens") ?? d.maxAnswerTokens,
    perQuestion: intAtLeast1("per-question"),
    maxExamples: intAtLeast1("max-examples"),
    fit: { ...d.fit, epochs: positive("epochs", d.fit.epochs), learningRate: positive("lr", d.fit.learningRate), l2 },
    threads: positive("threads", d.threads),
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
function prefixesFlag(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const list = text.split(",").map((t) => t.trim());
  if (list.some((t) => !/^[1-9][0-9]*$/.test(t))) throw new UserError(`--prefixes takes whole numbers >= 1 separated by commas, got "${text}"`);
  return list.map(Number);
}
