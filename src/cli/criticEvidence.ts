// `inference-guard critic-evidence`: measures a trained critic on held-out prompts and seeds and
// writes the results into a Markdown file (docs/critic.md) and a JSON file beside it.
import { UserError } from "../errors.js";
import { modelFlagOrDefault, modelHelp } from "./modelFlag.js";
import { criticEvidenceOptionsSchema, runCriticEvidence } from "../critic/criticEvidence.js";
import type { SettingKey } from "../settings.js";
import { definedOnly, readSettings, settingHelp, settingOptions, type HelpOverride } from "./settingFlags.js";
import { flagHelp, int, readFlags, text, type FlagTable, type Parser } from "./flagTable.js";
import { onStopRequest } from "./stopRequests.js";

/** The guard's own settings critic-evidence takes (with its own defaults, in --help). */
const SHARED_SETTINGS = ["budget", "beams", "samples", "width", "maxTokens", "maxResamples", "violationPenalty", "seed", "threads"] as const satisfies readonly SettingKey[];

/** The evaluation's default of an option (criticEvidenceOptionsSchema): the table and help state it. */
const S = criticEvidenceOptionsSchema.shape;
const dflt = <K extends keyof typeof S>(key: K): NonNullable<ReturnType<(typeof S)[K]["parse"]>> => S[key].parse(undefined) as never;

/** Help's column: the longest flag (--rollouts-per-prompt R) fits. */
const COLUMN = 29;

function listFlag(kind: "int" | "float"): Parser<number[]> {
  return (values, name) => {
    const raw = text(values, name);
    if (raw === undefined) return undefined;
    const list = raw.split(",").map((s) => Number(s.trim()));
    if (raw.trim() === "" || list.some((n) => !Number.isFinite(n) || n <= 0 || (kind === "int" && !Number.isInteger(n)))) {
      throw new UserError(`--${name} expects comma-separated positive ${kind === "int" ? "integers" : "numbers"}, got "${raw}"`);
    }
    return list;
  };
}

const partsFlag: Parser<Array<"a" | "b">> = (values, name) => {
  const raw = text(values, name);
  if (raw === undefined) return undefined;
  const parts = raw.split(",").map((s) => s.trim());
  if (parts.some((p) => p !== "a" && p !== "b")) throw new UserError(`--${name} expects a, b or a,b; got "${raw}"`);
  return parts as Array<"a" | "b">;
};

/** critic-evidence's own flags (the settings are src/settings.ts's, --model modelFlag.ts's). */
export const CRITIC_EVIDENCE_FLAGS = {
  critic: { metavar: "FILE", help: "critic file", required: true },
  prompts: { metavar: "FILE", help: 'held-out prompts, JSON Lines {"prompt": "..."}', required: true },
  chat: { help: "render each prompt as a user message with the model's chat template" },
  cost: { metavar: "SPEC", help: "cost model, e.g. rules:models/conflict-lexicon.json", required: true },
  out: { metavar: "FILE", help: "Markdown file to write the results into", required: true },
  section: {
    metavar: "NAME",
    help: "name of the generated section of --out to (re)write; several runs with\ndifferent names can share one file",
    default: dflt("section"),
  },
  parts: { metavar: "LIST", help: "a, b or a,b: which measurements to run", parse: partsFlag, default: dflt("parts"), defaultText: dflt("parts").join(",") },
  json: { metavar: "FILE", help: "also write the results as JSON", defaultText: "none" },
  "rollouts-per-prompt": { metavar: "R", help: "plain rollouts per prompt for (a)", parse: int(), default: dflt("rolloutsPerPrompt") },
  blocks: { metavar: "LIST", help: "blocks at which (a) is measured, comma-separated", parse: listFlag("int"), default: dflt("blocks"), defaultText: dflt("blocks").join(",") },
  "seeds-per-prompt": { metavar: "S", help: "guarded answers per prompt and configuration for (b)", parse: int(), default: dflt("seedsPerPrompt") },
  weights: {
    metavar: "LIST",
    help: "criticWeight values compared with no critic",
    parse: listFlag("float"),
    default: dflt("criticWeights"),
    defaultText: dflt("criticWeights").join(","),
  },
} as const satisfies FlagTable;

const F = CRITIC_EVIDENCE_FLAGS;

/** How critic-evidence's help words the settings: its own meaning, and its defaults where they differ from the guard's. */
const SETTING_HELP: Partial<Record<SettingKey, HelpOverride>> = {
  budget: { help: "safety budget", defaultText: String(dflt("budget")) },
  beams: { defaultText: String(dflt("beams")) },
  samples: { defaultText: String(dflt("samples")) },
  width: { help: "block width of the search; rollouts use the critic's training width", defaultText: String(dflt("width")) },
  maxTokens: { help: "length of rollouts and answers", defaultText: String(dflt("maxTokens")) },
  maxResamples: { defaultText: String(dflt("maxResamples")) },
  violationPenalty: { help: "the guard's penalty for a predicted violation", defaultText: String(dflt("violationPenalty")) },
  seed: { help: "base seed of rollouts and searches; pick one training did not use", defaultText: String(dflt("seed")) },
  threads: { defaultText: "1 for small models" },
};
const settings = (keys: readonly SettingKey[]): string => settingHelp(keys, SETTING_HELP, COLUMN);

export const CRITIC_EVIDENCE_HELP = `Usage: inference-guard critic-evidence --critic FILE --prompts FILE --cost SPEC --out FILE.md [options]

Measures a critic on prompts and seeds it was not trained on:
 (a) the AUC of the critic's risk (1 - safety) for "this plain-sampled rollout ends over budget",
     at fixed blocks, over all rollouts and over those still within budget, next to z alone;
 (b) guarded generation without the critic and with it (each --weights value) at equal compute:
     answers over budget, fallbacks, reward (paired difference), budget use.
Writes a section of FILE.md between generated markers (the rest of the file is kept), and the
numbers to --json FILE if given.

${flagHelp(F, ["critic", "prompts", "chat", "cost", "out", "section", "parts", "json"], COLUMN)}
${modelHelp(COLUMN, "--chat")}
${settings(["budget"])}
${flagHelp(F, ["rollouts-per-prompt", "blocks", "seeds-per-prompt", "weights"], COLUMN)}
${settings(["beams", "samples", "width", "maxTokens", "maxResamples", "violationPenalty", "seed", "threads"])}
  -h, --help                 this help
`;

const SHARED_OPTIONS = { model: { type: "string" as const }, ...settingOptions(SHARED_SETTINGS) };

export async function criticEvidenceCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { help, values: f, raw: v } = readFlags(F, argv, (line) => err.write(`inference-guard critic-evidence: ${line}\n`), SHARED_OPTIONS);
  if (help) {
    out.write(CRITIC_EVIDENCE_HELP);
    return 0;
  }
  const options = definedOnly({
    critic: f.critic,
    prompts: f.prompts,
    chat: f.chat,
    cost: f.cost,
    out: f.out,
    json: f.json,
    section: f.section,
    parts: f.parts,
    model: modelFlagOrDefault(v, f.chat),
    // The guard's settings, declared once (src/settings.ts): read and range-checked by their flags.
    ...readSettings(v, SHARED_SETTINGS),
    rolloutsPerPrompt: f["rollouts-per-prompt"],
    blocks: f.blocks,
    seedsPerPrompt: f["seeds-per-prompt"],
    criticWeights: f.weights,
    command: ["npx", "inference-guard", "critic-evidence", ...argv],
  });
  // Ctrl-C / SIGTERM: stop at the next rollout group or search block and write nothing, since the
  // section is written whole at the end (a second signal exits at once).
  const controller = new AbortController();
  const removeStopListeners = onStopRequest(() => controller.abort());
  try {
    await runCriticEvidence(options as Parameters<typeof runCriticEvidence>[0], (line) => out.write(line + "\n"), err, controller.signal);
  } finally {
    removeStopListeners();
  }
  return 0;
}
