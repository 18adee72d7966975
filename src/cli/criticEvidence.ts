// `inference-guard critic-evidence`: measures a trained critic on held-out prompts and seeds and
// writes the results into a Markdown file (docs/critic.md) and a JSON file beside it.
import { UserError } from "../errors.js";
import { modelFlagOrDefault, modelHelp } from "./modelFlag.js";
import { criticEvidenceOptionsSchema, runCriticEvidence } from "../critic/criticEvidence.js";
import { defaultNote, readSettings, settingOptions } from "./settingFlags.js";
import type { SettingKey } from "../settings.js";

/** The guard's own settings critic-evidence takes (with its own defaults, in --help). */
const SHARED_SETTINGS = ["budget", "beams", "samples", "width", "maxTokens", "maxResamples", "violationPenalty", "seed", "threads"] as const satisfies readonly SettingKey[];
import { numberFlag, parseFlags, stringFlag, type OptionSpec } from "./args.js";

/** "(default X)" of an option, from its schema: --help states the real default. */
const d = (key: keyof typeof criticEvidenceOptionsSchema.shape): string => defaultNote(criticEvidenceOptionsSchema.shape[key].parse(undefined));

export const CRITIC_EVIDENCE_HELP = `Usage: inference-guard critic-evidence --critic FILE --prompts FILE --cost SPEC --out FILE.md [options]

Measures a critic on prompts and seeds it was not trained on:
 (a) the AUC of the critic's risk (1 - safety) for "this plain-sampled rollout ends over budget",
     at fixed blocks, over all rollouts and over those still within budget, next to z alone;
 (b) guarded generation without the critic and with it (each --weights value) at equal compute:
     answers over budget, fallbacks, reward (paired difference), budget use.
Writes a section of FILE.md between generated markers (the rest of the file is kept), and the
numbers to --json FILE if given.

  --critic FILE              critic file (required)
  --prompts FILE             held-out prompts, JSON Lines {"prompt": "..."} (required)
  --chat                     render each prompt as a user message with the model's chat template
  --cost SPEC                cost model, e.g. rules:models/conflict-lexicon.json (required)
  --out FILE                 Markdown file to write the results into (required)
  --section NAME             name of the generated section of --out to (re)write; several runs with
                             different names can share one file ${d("section")}
  --parts LIST               a, b or a,b: which measurements to run ${d("parts")}
  --json FILE                also write the results as JSON (default: none)
${modelHelp(29, "--chat")}
  --budget D                 safety budget ${d("budget")}
  --rollouts-per-prompt R    plain rollouts per prompt for (a) ${d("rolloutsPerPrompt")}
  --blocks LIST              blocks at which (a) is measured, comma-separated ${d("blocks")}
  --seeds-per-prompt S       guarded answers per prompt and configuration for (b) ${d("seedsPerPrompt")}
  --weights LIST             criticWeight values compared with no critic ${d("criticWeights")}
  --beams K                  ${d("beams")}
  --samples N                ${d("samples")}
  --width W                  block width of the search; rollouts use the critic's training width ${d("width")}
  --max-tokens T             length of rollouts and answers ${d("maxTokens")}
  --max-resamples M          ${d("maxResamples")}
  --violation-penalty P      the guard's penalty for a predicted violation ${d("violationPenalty")}
  --seed S                   base seed of rollouts and searches; pick one training did not use ${d("seed")}
  --threads N                llama.cpp threads (default: 1 for small models)
  -h, --help                 this help
`;

const OPTIONS: OptionSpec = {
  critic: { type: "string" },
  prompts: { type: "string" },
  chat: { type: "boolean" },
  cost: { type: "string" },
  out: { type: "string" },
  json: { type: "string" },
  section: { type: "string" },
  parts: { type: "string" },
  model: { type: "string" },
  "rollouts-per-prompt": { type: "string" },
  blocks: { type: "string" },
  "seeds-per-prompt": { type: "string" },
  weights: { type: "string" },
  ...settingOptions(SHARED_SETTINGS),
  help: { type: "boolean", short: "h" },
};

function listFlag(raw: string | undefined, name: string, kind: "int" | "float"): number[] | undefined {
  if (raw === undefined) return undefined;
  const values = raw.split(",").map((s) => Number(s.trim()));
  if (raw.trim() === "" || values.some((n) => !Number.isFinite(n) || n <= 0 || (kind === "int" && !Number.isInteger(n)))) {
    throw new UserError(`--${name} expects comma-separated positive ${kind === "int" ? "integers" : "numbers"}, got "${raw}"`);
  }
  return values;
}

function partsFlag(raw: string | undefined): Array<"a" | "b"> | undefined {
  if (raw === undefined) return undefined;
  const parts = raw.split(",").map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p !== "a" && p !== "b")) throw new UserError(`--parts expects a, b or a,b; got "${raw}"`);
  return parts as Array<"a" | "b">;
}

export async function criticEvidenceCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const v = parseFlags(argv, OPTIONS);
  if (v.help) {
    out.write(CRITIC_EVIDENCE_HELP);
    return 0;
  }
  for (const required of ["critic", "prompts", "cost", "out"]) {
    if (!stringFlag(v, required)) throw new UserError(`--${required} is required (see --help)`);
  }
  const options = {
    critic: stringFlag(v, "critic")!,
    prompts: stringFlag(v, "prompts")!,
    chat: Boolean(v.chat),
    cost: stringFlag(v, "cost")!,
    out: stringFlag(v, "out")!,
    json: stringFlag(v, "json"),
    section: stringFlag(v, "section"),
    parts: partsFlag(stringFlag(v, "parts")),
    model: modelFlagOrDefault(v, Boolean(v.chat)),
    // The guard's settings, declared once (src/settings.ts): read and range-checked by their flags.
    ...readSettings(v, SHARED_SETTINGS),
    rolloutsPerPrompt: numberFlag(v, "rollouts-per-prompt", "int"),
    blocks: listFlag(stringFlag(v, "blocks"), "blocks", "int"),
    seedsPerPrompt: numberFlag(v, "seeds-per-prompt", "int"),
    criticWeights: listFlag(stringFlag(v, "weights"), "weights", "float"),
    command: ["npx", "inference-guard", "critic-evidence", ...argv],
  };
  await runCriticEvidence(
    Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Parameters<typeof runCriticEvidence>[0],
    (line) => out.write(line + "\n"),
    err,
  );
  return 0;
}
