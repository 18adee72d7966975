// `inference-guard eval`: every decoding method on the same prompts and seeds through one engine,
// with a resumable record of every answer and a report (table + plots) derived from it.
import { join } from "node:path";
import { ASSISTANT_COST_DEFAULT, DEFAULT_BUDGET, STORY_COST_DEFAULT } from "../cost/defaults.js";
import { UserError } from "../errors.js";
import { evalConfigSchema, resolveEvalSettings, type EvalOverrides } from "../eval/config.js";
import { METHOD_HELP, METHOD_KINDS } from "../eval/methods.js";
import { PROMPT_LABELS } from "../eval/prompts.js";
import { methodsTable } from "../eval/report.js";
import { runEval } from "../eval/runner.js";
import { modelHelp } from "./modelFlag.js";
import { stringFlag } from "./args.js";
import { choice, flagHelp, int, readFlags, text, type FlagTable } from "./flagTable.js";
import { defaultNote, helpLine, readSettings, settingHelp, settingOptions } from "./settingFlags.js";

/** The guard's and runtime settings eval takes as flags (its own defaults are in the config). */
const SHARED_SETTINGS = ["budget", "maxTokens", "threads", "contextSize", "gpu"] as const;
import { onStopRequest } from "./stopRequests.js";

/** The config's own defaults, as --help states them. */
export const EVAL_DEFAULTS = {
  maxTokens: evalConfigSchema.shape.maxTokens.parse(undefined),
  scanWidth: evalConfigSchema.shape.scanWidth.parse(undefined),
  seeds: evalConfigSchema.shape.seeds.parse(undefined),
};

/**
 * eval's own flags (the guard settings are src/settings.ts's, --model modelFlag.ts's). None has a
 * `default`: a flag not given leaves the config's value, and the config's defaults are stated.
 */
export const EVAL_FLAGS = {
  config: {
    metavar: "FILE",
    help: "JSON config (version 1) with the fields below in camelCase\n(model, prompts, cost, critic, budget, maxTokens, seeds, methods, ...);\nits relative paths are resolved against its folder; flags override it",
  },
  prompts: {
    metavar: "FILE",
    help: '.jsonl with {"prompt": TEXT} or {"messages": [...]} per line (optional\n"label": "harmful"|"harmless"), or a .json array of those or of\n{"instruction", "category"} (../shared/data/safety/prompts/*.json:\na category marks a harmful request, null a harmless one)',
  },
  limit: { metavar: "N", help: "take the first N prompts", defaultText: "all", parse: int() },
  "prompt-label": { metavar: "L", help: `label every prompt ${PROMPT_LABELS.join(" or ")}`, defaultText: "the file's labels", parse: choice(PROMPT_LABELS) },
  chat: { help: "render prompts with the model's chat template (instruction models)" },
  system: { metavar: "TEXT", help: "system message for --chat" },
  cost: {
    metavar: "SPEC",
    help: `cost model, e.g. rules:PATH or classifier:PATH. Default:\n${STORY_COST_DEFAULT.describe};\nwith --chat: ${ASSISTANT_COST_DEFAULT.describe}`,
  },
  critic: { metavar: "FILE", help: "critic for guard-critic (trained for this model)" },
  seeds: {
    metavar: "LIST",
    help: "comma-separated seeds; every method runs once per prompt and seed",
    defaultText: EVAL_DEFAULTS.seeds.join(","),
    parse: (values, name) => seedsFlag(text(values, name)),
  },
  "scan-width": { metavar: "W", help: "block width in tokens of the max-cumulative-cost scan", defaultText: String(EVAL_DEFAULTS.scanWidth), parse: int() },
  methods: { metavar: "LIST", help: "the methods to run, comma-separated (Methods, below)" },
  out: { metavar: "DIR", help: "output folder; reopening it with other model/cost/budget/\nmax-tokens settings is refused\n", required: true },
} as const satisfies FlagTable;
const methodLines = METHOD_KINDS.map((k) => `  ${k.padEnd(15)} ${METHOD_HELP[k]}`).join("\n");

export const EVAL_HELP = `Usage: inference-guard eval --prompts FILE --methods LIST --out DIR [options]
       inference-guard eval --config FILE --out DIR [options]

Runs every method on the same prompts and seeds through the same engine and writes
DIR/records.jsonl (one line per prompt, method and seed: text, reward, cost, max cumulative
cost, within budget, tokens, seconds), DIR/report.json, DIR/report.md and three SVG plots
(reward vs safety rate, time vs safety rate, distribution of max cumulative cost).
Resumable: run the same command again after a stop and it continues where it stopped
(no answer is generated twice); more prompts, seeds or methods add to the same folder.

Inputs:
${flagHelp(EVAL_FLAGS, ["config"])}
${modelHelp(25, "--chat")} (or the config's "model": either)
${flagHelp(EVAL_FLAGS, ["prompts", "limit", "prompt-label", "methods", "chat", "system", "cost"])}
${settingHelp(["reward"], { reward: { help: "what ranking methods maximise and every answer is scored by: logprob or head:PATH (a method's reward=logprob ranks by likelihood instead)" } })}
${flagHelp(EVAL_FLAGS, ["critic"])}
  --budget D             safety budget: an answer is safe when its cost is <= D (default: the
                         default cost model's, above; ${DEFAULT_BUDGET} with a named cost model)
${helpLine("max-tokens", "T", `answer length cap ${defaultNote(EVAL_DEFAULTS.maxTokens)}`)}
${flagHelp(EVAL_FLAGS, ["seeds"])}
${flagHelp(EVAL_FLAGS, ["scan-width"])}

Methods (--methods, comma-separated; parameters as :key=value, e.g. bon:n=8 or
bon-lagrangian:n=8:lambda=2; t is the sampling temperature):
${methodLines}
Reward = mean token log-probability of the answer under the base model.

Output and runtime:
${flagHelp(EVAL_FLAGS, ["out"])}
${settingHelp(["threads", "contextSize", "gpu"], { contextSize: { defaultText: "enough for the largest method" } })}
  -h, --help             this help

Example:
  inference-guard eval --prompts models/testbed/story-openings.test.jsonl --out eval-out \\
    --methods greedy,sample,bon:n=8,bon-lagrangian:n=8:lambda=2,bon-safe:n=8,beam:k=4,beam-safe:k=4,args:k=10:omega=2,guard \\
    --seeds 1,2 --max-tokens 100
`;

/** Flags declared elsewhere: the settings (settingFlags.ts), --model (modelFlag.ts). */
const SHARED_OPTIONS = { model: { type: "string" as const }, ...settingOptions(["reward", ...SHARED_SETTINGS]) };

function seedsFlag(raw: string | undefined): number[] | undefined {
  if (raw === undefined) return undefined;
  const seeds = raw.split(",").map((s) => s.trim());
  if (seeds.some((s) => !/^\d+$/.test(s))) throw new UserError(`--seeds expects comma-separated non-negative integers, got "${raw}"`);
  return seeds.map(Number);
}

/** The command line as a shell would take it back (for the report). */
function shellLine(argv: string[]): string {
  const quote = (a: string) => (/^[\w./:,=@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ["npx", "inference-guard", "eval", ...argv.map(quote)].join(" ");
}

export async function evalCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { help, values: f, raw: v } = readFlags(EVAL_FLAGS, argv, (line) => err.write(`inference-guard eval: ${line}\n`), SHARED_OPTIONS);
  if (help) {
    out.write(EVAL_HELP);
    return 0;
  }
  const outDir = f.out;
  const overrides: EvalOverrides = {
    model: stringFlag(v, "model"),
    prompts: f.prompts,
    limit: f.limit,
    promptLabel: f["prompt-label"],
    chat: f.chat ? true : undefined,
    system: f.system,
    cost: f.cost,
    reward: stringFlag(v, "reward"),
    critic: f.critic,
    // The guard's settings, declared once (src/settings.ts): read and range-checked by their flags.
    ...(readSettings(v, SHARED_SETTINGS) as Pick<EvalOverrides, (typeof SHARED_SETTINGS)[number]>),
    seeds: f.seeds,
    scanWidth: f["scan-width"],
    methods: f.methods,
  };
  const settings = resolveEvalSettings(f.config, overrides);

  // Ctrl-C / SIGTERM: finish nothing more, keep every recorded answer, write the report of what is done.
  const controller = new AbortController();
  const removeStopListeners = onStopRequest(() => {
    err.write("\ninference-guard: stopping after this answer (run the same command again to continue)\n");
    controller.abort();
  });
  try {
    const result = await runEval(settings, {
      out: outDir,
      progress: err,
      signal: controller.signal,
      command: shellLine(argv),
      warn: (message) => err.write(`inference-guard: warning: ${message}\n`),
    });
    out.write(methodsTable(result.report) + "\n\n");
    out.write(
      `${result.ran} answers generated, ${result.skipped} already recorded; ` +
        `${result.report.progress.done}/${result.report.progress.expected} done. Report: ${join(outDir, "report.md")}\n`,
    );
    return result.aborted ? 130 : 0;
  } finally {
    removeStopListeners();
  }
}
