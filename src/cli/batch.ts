// `inference-guard batch`: answers a JSONL file of prompts into a JSONL file of results, resumably.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { Writable } from "node:stream";
import { ASSISTANT_COST_DEFAULT } from "../cost/defaults.js";
import { createGuard, type Method } from "../createGuard.js";
import { runBatch } from "../batch/runBatch.js";
import { UserError } from "../errors.js";
import { CostModelSet, costModelSpecs } from "../cost/costModelSet.js";
import type { OptionSpec } from "./args.js";
import { choice, flagHelp, readFlags, type FlagTable } from "./flagTable.js";
import { modelFlag, modelHelp } from "./modelFlag.js";
import { REWARD_MODEL_HELP, REWARD_MODEL_OPTIONS, namedRewardModels } from "./settingFlags.js";
import { COST_OPTIONS, COST_SET_HELP, namedCostModels, SERVICE_RUNTIME_FLAGS, SEARCH_FLAGS, namedCostSpec, readRuntime, readSettings, settingHelp, settingOptions } from "./settingFlags.js";
import { onStopRequest } from "./stopRequests.js";

/** Defaults for lines, in --help order (--seed is a base seed, read apart). */
const LINE_FLAGS = ["budget", "beams", "samples", "width", "maxResamples", "onUnsafe", "branch", "maxTokens", "temperature", "seed"] as const;

/** batch's own flags (the guard settings are src/settings.ts's, --model modelFlag.ts's). */
export const BATCH_FLAGS = {
  in: { metavar: "FILE", help: "input JSONL", required: true },
  out: { metavar: "FILE", help: "results JSONL, created or appended to", required: true },
  chat: { help: "render string prompts with the model's chat template (messages always are)" },
  "cost-model": { metavar: "NAME=SPEC", help: 'another cost model lines may choose with guard: {cost: "NAME"}; repeatable', multiple: true },
  critic: { metavar: "FILE", help: "critic file trained for this model (optional)" },
  method: { metavar: "M", help: "guard | sample | greedy", default: "guard", parse: choice<Method>(["guard", "sample", "greedy"]) },
  quiet: { help: "no progress bar" },
} as const satisfies FlagTable;

export const BATCH_HELP = `Usage: inference-guard batch --in PROMPTS.jsonl --out RESULTS.jsonl [options]

Answers every prompt of a JSONL file, one line each:
  {"id": "a1", "prompt": "Once upon a time"}
  {"id": 2, "messages": [{"role": "user", "content": "Tell me a story"}], "guard": {"budget": 0.5, "maxTokens": 64}}
A line's optional guard field may set budget, beams, samples, width, cost (a name given with
--cost-model), method, maxResamples, penalty, onUnsafe, branch, trace, maxTokens, temperature, topP, topK,
seed.

--parallel prompts are answered at once, their candidates in one decode per step. Each result is
appended as one line {id, text, cost, budget, withinBudget, seconds, tokens, method, costModel,
stopReason, fallback, resamples, seed} the moment it is done (so in the order prompts finish; on
models under 2 GiB the answers do not depend on --parallel); a line is written whole (one write, then fsync) or not
at all. Running the same command again resumes: ids already in --out are skipped, and an
unfinished last line left by a killed run is cut off first. A bad input line is reported with its
line number and skipped. Ctrl-C stops after cutting the prompts being answered short (they are
not written); run again to resume. Exit status: 0 all done, 1 some lines skipped, 130 interrupted.

Files:
${flagHelp(BATCH_FLAGS, ["in", "out"])}

Model and safety:
${modelHelp(25, "--chat")}
${flagHelp(BATCH_FLAGS, ["chat"])}
${COST_SET_HELP}
${REWARD_MODEL_HELP}
${flagHelp(BATCH_FLAGS, ["cost-model", "critic"])}
${settingHelp(["criticWeight"])}

Defaults for lines that do not set them:
${flagHelp(BATCH_FLAGS, ["method"])}
${settingHelp([...LINE_FLAGS, "trace"], {
  budget: { help: "safety budget, > 0", note: `${ASSISTANT_COST_DEFAULT.budget} for chat prompts on the built-in "assistant" model` },
  seed: {
    help: "base seed: each line's seed is derived from S and its id, so a resumed\nrun gives the same answers as an uninterrupted one",
    defaultText: "random",
  },
  trace: { help: "add every block's candidates to each result line" },
})}

Runtime:
${settingHelp(SERVICE_RUNTIME_FLAGS)}
${flagHelp(BATCH_FLAGS, ["quiet"])}
  -h, --help             this help
`;

/** Flags declared elsewhere: the settings (settingFlags.ts) and --model (modelFlag.ts). */
const SHARED_OPTIONS: OptionSpec = {
  ...settingOptions([...SEARCH_FLAGS, ...LINE_FLAGS, "trace", ...SERVICE_RUNTIME_FLAGS]),
  ...COST_OPTIONS,
  ...REWARD_MODEL_OPTIONS,
  model: { type: "string" },
};

export async function batchCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { help, values: f, raw: v } = readFlags(BATCH_FLAGS, argv, (line) => err.write(`inference-guard batch: ${line}\n`), SHARED_OPTIONS);
  if (help) {
    out.write(BATCH_HELP);
    return 0;
  }
  const { in: inputPath, out: outputPath, method } = f;
  // Fail on a missing input before spending seconds on loading the model.
  if (!existsSync(inputPath)) throw new UserError(`input file not found: ${inputPath}`);
  if (resolve(inputPath) === resolve(outputPath)) throw new UserError("--in and --out are the same file");
  // The base seed, parsed and range-checked by its one declaration (src/settings.ts).
  const { seed } = readSettings(v, ["seed"]) as { seed?: number };
  const defaults = readSettings(v, [...SEARCH_FLAGS, "temperature", "trace"]);

  const costs = await CostModelSet.load(
    costModelSpecs(
      namedCostSpec(v),
      namedCostModels(v),
    ),
  );
  const guard = await createGuard({
    model: modelFlag(v, f.chat),
    cost: costs,
    rewardModels: namedRewardModels(v),
    critic: f.critic,
    ...readRuntime(v, true),
    defaults,
  }).catch(async (error: unknown) => {
    await costs.dispose();
    throw error;
  });
  for (const warning of guard.warnings) err.write(`inference-guard: warning: ${warning}\n`);

  // Ctrl-C / SIGTERM: cut the current prompt short, keep everything written, exit 130 (a second one exits at once).
  const controller = new AbortController();
  const removeStopListeners = onStopRequest(() => controller.abort());
  try {
    const summary = await runBatch({
      guard,
      costs,
      inputPath,
      outputPath,
      defaults,
      method,
      chat: f.chat,
      seed,
      signal: controller.signal,
      report: (line) => err.write(`inference-guard: ${line}\n`),
      progressStream: f.quiet ? new Writable({ write: (_chunk, _encoding, done) => done() }) : err,
    });
    err.write(
      `inference-guard: ${summary.written} written, ${summary.alreadyDone} already done, ${summary.skipped} skipped` +
        `; ${summary.overBudget} over budget, ${summary.fallbacks} fallbacks; ${summary.seconds.toFixed(1)} s\n`,
    );
    if (summary.interrupted) {
      err.write(`inference-guard: interrupted; run the same command again to resume\n`);
      return 130;
    }
    return summary.skipped > 0 ? 1 : 0;
  } finally {
    removeStopListeners();
    await guard.dispose();
  }
}
