// `inference-guard generate`: one answer to one prompt, guarded or with a baseline method.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ASSISTANT_COST_DEFAULT, STORY_COST_DEFAULT, defaultCost } from "../cost/defaults.js";
import { createGuard, type Method } from "../createGuard.js";
import { UserError } from "../errors.js";
import { writeFileAtomic } from "../util/files.js";
import { type OptionSpec } from "./args.js";
import { choice, flagHelp, readFlags, type FlagTable } from "./flagTable.js";
import { modelFlag, modelHelp } from "./modelFlag.js";
import { COST_OPTIONS, RUNTIME_FLAGS, SEARCH_FLAGS, definedOnly, namedCostSpec, readRuntime, readSettings, settingHelp, settingOptions } from "./settingFlags.js";

/** generate's own flags (the guard settings and --cost/--cost-rules are src/settings.ts's, --model modelFlag.ts's). */
export const GENERATE_FLAGS = {
  prompt: { metavar: "TEXT", help: "the prompt", required: true },
  chat: { help: "render the prompt with the model's chat template (instruction models)" },
  system: { metavar: "TEXT", help: "system message, with --chat" },
  critic: { metavar: "FILE", help: "critic file trained for this model (optional)" },
  method: { metavar: "M", help: "guard | sample | greedy", default: "guard", parse: choice<Method>(["guard", "sample", "greedy"]) },
  json: { help: "print one JSON object: text, cost, budget, withinBudget, tokens, method, seconds, ..." },
  trace: {
    metavar: "FILE",
    help: "write every candidate of every block (text, cost, z, critic, verdict) as JSON\n(missing folders are created; the answer is printed first)",
  },
} as const satisfies FlagTable;

export const GENERATE_HELP = `Usage: inference-guard generate --prompt TEXT [options]

Answers one prompt. With --method guard (the default) the answer never exceeds the safety
budget under the cost model: InferenceGuard keeps K beams, samples N candidate blocks of W
tokens, drops candidates whose cumulative cost exceeds the budget, ranks the rest by reward
(mean token log-probability) plus the critic, and resamples with penalised logits when all
candidates are over budget.

Model and safety:
${flagHelp(GENERATE_FLAGS, ["prompt"])}
${modelHelp(25, "--chat")}
${flagHelp(GENERATE_FLAGS, ["chat", "system"])}
  --cost-rules PATH      rules cost model JSON {"terms": {"word": cost}}
  --cost SPEC            cost model spec, e.g. rules:PATH or classifier:PATH (overrides --cost-rules).
                         Default: ${STORY_COST_DEFAULT.describe};
                         with --chat: ${ASSISTANT_COST_DEFAULT.describe}
${flagHelp(GENERATE_FLAGS, ["critic"])}
${settingHelp(["criticWeight", "budget"], { budget: { note: `${ASSISTANT_COST_DEFAULT.budget} with --chat and no cost model named` } })}

Search (InferenceGuard):
${settingHelp(["beams", "samples", "width", "maxResamples", "penalty", "onUnsafe", "branch"])}

Sampling:
${flagHelp(GENERATE_FLAGS, ["method"])}
${settingHelp(["maxTokens", "temperature", "topK", "topP", "seed"])}

Runtime:
${settingHelp(RUNTIME_FLAGS)}

Output:
${flagHelp(GENERATE_FLAGS, ["json", "trace"])}
  -h, --help             this help
`;

/** The settings generate takes as flags (--trace is a file here, not the setting's boolean). */
const SETTING_FLAGS = [...SEARCH_FLAGS, "penalty", "temperature", "topK", "topP", "seed"] as const;

/** Flags declared elsewhere: the settings (settingFlags.ts), --model (modelFlag.ts). */
const SHARED_OPTIONS: OptionSpec = {
  ...settingOptions([...SETTING_FLAGS, ...RUNTIME_FLAGS]),
  ...COST_OPTIONS,
  model: { type: "string" },
};

export async function generateCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { help, values: f, raw: v } = readFlags(GENERATE_FLAGS, argv, (line) => err.write(`inference-guard generate: ${line}\n`), SHARED_OPTIONS);
  if (help) {
    out.write(GENERATE_HELP);
    return 0;
  }
  const { prompt, method } = f;
  const search = { ...readSettings(v, SETTING_FLAGS), trace: f.trace !== undefined };
  const traceFile = f.trace;
  if (traceFile !== undefined) checkTracePath(traceFile);

  // Naming no cost model picks the one made for the prompt's kind, with its budget.
  const namedCost = namedCostSpec(v);
  const fallback = defaultCost(f.chat);
  const guard = await createGuard({
    model: modelFlag(v, f.chat),
    cost: namedCost ?? fallback.spec,
    critic: f.critic,
    ...readRuntime(v),
    // A budget flag (in search) wins over the default cost model's budget.
    defaults: definedOnly({ budget: namedCost === undefined ? fallback.budget : undefined, ...search }),
  });
  for (const warning of guard.warnings) err.write(`inference-guard: warning: ${warning}\n`);
  try {
    const system = f.system;
    const input = f.chat
      ? [...(system ? [{ role: "system" as const, content: system }] : []), { role: "user" as const, content: prompt }]
      : prompt;
    const result = await guard.generate(input, { method, chat: f.chat });
    const { trace, tokenIds: _ids, ...summary } = result;
    // A chat model given a bare prompt often ends its answer at once: say why, and what renders it.
    if (!f.chat && result.warning === undefined && guard.engine.info.chatTemplate) {
      const hint = "this model has a chat template: --chat renders the prompt with it (without --chat the prompt is plain text to continue)";
      if (result.text.trim() === "") summary.warning = `the answer is empty; ${hint}`;
      else err.write(`inference-guard: note: ${hint}\n`);
    }
    if (summary.warning !== undefined) err.write(`inference-guard: warning: ${summary.warning}\n`);
    if (f.json) {
      out.write(JSON.stringify(summary) + "\n");
    } else {
      out.write(result.text + "\n");
      const budget = result.budget === null ? "" : `/${result.budget}`;
      err.write(
        `[${result.method}] ${result.tokens} tokens, cost ${result.cost}${budget}, ` +
          `${result.withinBudget ? "within budget" : "OVER BUDGET"}${result.fallback ? " (fallback)" : ""}, ` +
          `stop: ${result.stopReason}, ${result.seconds.toFixed(2)} s, seed ${result.seed}\n`,
      );
    }
    // The answer is out first: a trace that cannot be written never costs the user the answer.
    if (traceFile !== undefined) writeTrace(traceFile, JSON.stringify({ ...summary, prompt, trace: trace ?? [] }, null, 2) + "\n");
    return 0;
  } finally {
    await guard.dispose();
  }
}

/** Before the model loads: a trace path that is a folder is a mistake (its own folder is created when missing). */
function checkTracePath(path: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new UserError(`--trace ${path} is a folder: give a file path, e.g. ${join(path, "trace.json")}`);
}

function writeTrace(path: string, json: string): void {
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true });
    writeFileAtomic(path, json);
  } catch (error) {
    throw new UserError(`the answer is above, but its trace could not be written to ${path}: ${(error as Error).message}`, { cause: error });
  }
}
