// `inference-guard generate`: one answer to one prompt, guarded or with a baseline method.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ASSISTANT_COST_DEFAULT, STORY_COST_DEFAULT, defaultCost } from "../cost/defaults.js";
import { createGuard, type Method } from "../createGuard.js";
import { UserError } from "../errors.js";
import { writeFileAtomic } from "../util/files.js";
import { choiceFlag, parseFlags, stringFlag, type OptionSpec } from "./args.js";
import { modelFlag, modelHelp } from "./modelFlag.js";
import { COST_OPTIONS, RUNTIME_FLAGS, SEARCH_FLAGS, definedOnly, namedCostSpec, readRuntime, readSettings, settingHelp, settingOptions } from "./settingFlags.js";

export const GENERATE_HELP = `Usage: inference-guard generate --prompt TEXT [options]

Answers one prompt. With --method guard (the default) the answer never exceeds the safety
budget under the cost model: InferenceGuard keeps K beams, samples N candidate blocks of W
tokens, drops candidates whose cumulative cost exceeds the budget, ranks the rest by reward
(mean token log-probability) plus the critic, and resamples with penalised logits when all
candidates are over budget.

Model and safety:
  --prompt TEXT          the prompt (required)
${modelHelp(25, "--chat")}
  --chat                 render the prompt with the model's chat template (instruction models)
  --system TEXT          system message, with --chat
  --cost-rules PATH      rules cost model JSON {"terms": {"word": cost}}
  --cost SPEC            cost model spec, e.g. rules:PATH or classifier:PATH (overrides --cost-rules).
                         Default: ${STORY_COST_DEFAULT.describe};
                         with --chat: ${ASSISTANT_COST_DEFAULT.describe}
  --critic FILE          critic file trained for this model (optional)
${settingHelp(["criticWeight", "budget"], { budget: { note: `${ASSISTANT_COST_DEFAULT.budget} with --chat and no cost model named` } })}

Search (InferenceGuard):
${settingHelp(["beams", "samples", "width", "maxResamples", "penalty", "onUnsafe", "branch"])}

Sampling:
  --method M             guard | sample | greedy (default guard)
${settingHelp(["maxTokens", "temperature", "topK", "topP", "seed"])}

Runtime:
${settingHelp(RUNTIME_FLAGS)}

Output:
  --json                 print one JSON object: text, cost, budget, withinBudget, tokens, method, seconds, ...
  --trace FILE           write every candidate of every block (text, cost, z, critic, verdict) as JSON
                         (missing folders are created; the answer is printed first)
  -h, --help             this help
`;

/** The settings generate takes as flags (--trace is a file here, not the setting's boolean). */
const SETTING_FLAGS = [...SEARCH_FLAGS, "penalty", "temperature", "topK", "topP", "seed"] as const;

const OPTIONS: OptionSpec = {
  ...settingOptions([...SETTING_FLAGS, ...RUNTIME_FLAGS]),
  ...COST_OPTIONS,
  prompt: { type: "string" },
  model: { type: "string" },
  chat: { type: "boolean" },
  system: { type: "string" },
  critic: { type: "string" },
  method: { type: "string" },
  json: { type: "boolean" },
  trace: { type: "string" },
  help: { type: "boolean", short: "h" },
};

export async function generateCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const v = parseFlags(argv, OPTIONS);
  if (v.help) {
    out.write(GENERATE_HELP);
    return 0;
  }
  const prompt = stringFlag(v, "prompt");
  if (prompt === undefined || prompt === "") throw new UserError("--prompt is required (see --help)");
  const method = choiceFlag<Method>(v, "method", ["guard", "sample", "greedy"]) ?? "guard";
  const search = { ...readSettings(v, SETTING_FLAGS), trace: stringFlag(v, "trace") !== undefined };
  const traceFile = stringFlag(v, "trace");
  if (traceFile !== undefined) checkTracePath(traceFile);

  // Naming no cost model picks the one made for the prompt's kind, with its budget.
  const namedCost = namedCostSpec(v);
  const fallback = defaultCost(Boolean(v.chat));
  const guard = await createGuard({
    model: modelFlag(v, Boolean(v.chat)),
    cost: namedCost ?? fallback.spec,
    critic: stringFlag(v, "critic"),
    ...readRuntime(v),
    // A budget flag (in search) wins over the default cost model's budget.
    defaults: definedOnly({ budget: namedCost === undefined ? fallback.budget : undefined, ...search }),
  });
  for (const warning of guard.warnings) err.write(`inference-guard: warning: ${warning}\n`);
  try {
    const system = stringFlag(v, "system");
    const input = v.chat
      ? [...(system ? [{ role: "system" as const, content: system }] : []), { role: "user" as const, content: prompt }]
      : prompt;
    const result = await guard.generate(input, { method, chat: Boolean(v.chat) });
    const { trace, tokenIds: _ids, ...summary } = result;
    // A chat model given a bare prompt often ends its answer at once: say why, and what renders it.
    if (!v.chat && result.warning === undefined && guard.engine.info.chatTemplate) {
      const hint = "this model has a chat template: --chat renders the prompt with it (without --chat the prompt is plain text to continue)";
      if (result.text.trim() === "") summary.warning = `the answer is empty; ${hint}`;
      else err.write(`inference-guard: note: ${hint}\n`);
    }
    if (summary.warning !== undefined) err.write(`inference-guard: warning: ${summary.warning}\n`);
    if (v.json) {
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
