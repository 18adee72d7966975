// Command-line flags and --help lines derived from the settings' one declaration (src/settings.ts):
// a command names the settings it takes, and gets their flags, typed readers and help lines (with
// the library's real defaults). Ranges are checked by the library, so a flag and an option can
// never disagree about them.
import { UserError } from "../errors.js";
import { ASSISTANT_COST_DEFAULT, STORY_COST_DEFAULT } from "../cost/defaults.js";
import type { GpuOption } from "../engine/engine.js";
import { parseNamedCostSpecs } from "../cost/costModelSet.js";
import { SETTINGS, type GpuChoice, type Setting, type SettingKey } from "../settings.js";
import { parseNamedSpecs } from "../util/namedModels.js";
import { definedOnly } from "../util/objects.js";
import { choiceFlag, numberFlag, stringFlag, type OptionSpec } from "./args.js";
import { HELP_COLUMN, flagHelp, flagOptions, type FlagTable } from "./flagTable.js";

export { definedOnly };

type Values = Record<string, unknown>;

/** The search settings generate, batch, serve and queue push take as flags. */
export const SEARCH_FLAGS = ["budget", "beams", "samples", "width", "maxResamples", "onUnsafe", "branch", "maxTokens", "criticWeight"] as const satisfies readonly SettingKey[];
/** The llama.cpp runtime flags of every command that loads a model for a search. */
export const RUNTIME_FLAGS = ["reward", "gpu", "threads", "contextSize"] as const satisfies readonly SettingKey[];
/** Commands that answer many prompts (serve, batch, worker) also run several at once. */
export const SERVICE_RUNTIME_FLAGS = [...RUNTIME_FLAGS, "parallel"] as const satisfies readonly SettingKey[];

/** node:util parseArgs options for the given settings. */
export function settingOptions(keys: readonly SettingKey[]): OptionSpec {
  const spec: OptionSpec = {};
  for (const key of keys) {
    const s: Setting = SETTINGS[key];
    spec[s.flag] = s.kind === "boolean" ? { type: "boolean" } : s.kind === "strings" ? { type: "string", multiple: true } : { type: "string" };
  }
  return spec;
}

/** The given settings as library options, typed by kind; only those on the command line (defaults still apply). */
export function readSettings(v: Values, keys: readonly SettingKey[]): Record<string, number | string | boolean | string[]> {
  const out: Record<string, number | string | boolean | string[] | undefined> = {};
  for (const key of keys) {
    const s: Setting = SETTINGS[key];
    switch (s.kind) {
      case "int":
      case "number":
        out[key] = numberFlag(v, s.flag, s.kind === "int" ? "int" : "float");
        break;
      case "choice":
        out[key] = choiceFlag(v, s.flag, s.choices!);
        break;
      case "boolean":
        out[key] = v[s.flag] === true ? true : undefined;
        break;
      case "string":
        out[key] = stringFlag(v, s.flag);
        break;
      case "strings":
        out[key] = v[s.flag] as string[] | undefined;
        break;
    }
    // A value out of range is the flag's mistake: say so by the flag's name, not the option's.
    if (out[key] !== undefined) {
      const checked = s.base.safeParse(out[key]);
      if (!checked.success) throw new UserError(`--${s.flag} ${String(out[key])}: ${checked.error.issues[0]?.message ?? "invalid value"}`);
    }
  }
  return definedOnly(out);
}

/** The runtime flags as createGuard options (--gpu cpu is gpu: false); with `service`, --parallel too (default applied). */
export function readRuntime(v: Values, service = false): { gpu: GpuOption; threads?: number; contextSize?: number; parallel?: number; reward?: string } {
  const { gpu, ...rest } = readSettings(v, service ? SERVICE_RUNTIME_FLAGS : RUNTIME_FLAGS) as { gpu?: GpuChoice; threads?: number; contextSize?: number; parallel?: number; reward?: string };
  return { gpu: gpu === undefined || gpu === "cpu" ? false : gpu, ...(service ? { parallel: SETTINGS.parallel.default } : {}), ...rest };
}

/** What a command says differently about a setting: its own help text, default wording, or a note after the default. */
export type HelpOverride = { help?: string; defaultText?: string; note?: string };

/** One --help line: "  --flag VALUE   text (default X)"; each "\n" in text starts a line under the first, at the help column. */
export function helpLine(flag: string, metavar: string, text: string, column = HELP_COLUMN): string {
  const left = `  --${flag}${metavar ? ` ${metavar}` : ""}`;
  return `${left.length < column ? left.padEnd(column) : `${left} `}${text.split("\n").join(`\n${" ".repeat(column)}`)}`;
}

/** "(default X)" for a fixed default, "(default: words)" for one described in words. */
export function defaultNote(value: unknown, note?: string): string {
  const text = typeof value === "string" && / /.test(value) ? `: ${value}` : ` ${Array.isArray(value) ? value.join(",") : String(value)}`;
  return `(default${text}${note ? `; ${note}` : ""})`;
}

/** --help lines of the given settings, in order, each ending with its real default. */
export function settingHelp(keys: readonly SettingKey[], overrides: Partial<Record<SettingKey, HelpOverride>> = {}, column = HELP_COLUMN): string {
  return keys
    .map((key) => {
      const s: Setting = SETTINGS[key];
      const o = overrides[key] ?? {};
      const value = o.defaultText ?? s.defaultText ?? s.default;
      // A boolean flag is off unless given: it has nothing to say about a default.
      const note = s.kind === "boolean" ? "" : ` ${defaultNote(value, o.note ?? s.note)}`;
      return helpLine(s.flag, s.metavar, `${o.help ?? s.help}${note}`, column);
    })
    .join("\n");
}

/** The cost model named with --cost SPEC, or with --cost-rules PATH (the same as --cost rules:PATH); undefined when neither. */
export function namedCostSpec(v: Values): string | undefined {
  const rules = stringFlag(v, "cost-rules");
  return stringFlag(v, "cost") ?? (rules !== undefined ? `rules:${rules}` : undefined);
}

/** --cost and --cost-rules, declared once for every command that takes them (generate, serve, batch, worker). */
export const COST_FLAGS = {
  cost: {
    metavar: "SPEC",
    help: `default cost model, e.g. rules:PATH or classifier:PATH. Without it:\n${STORY_COST_DEFAULT.describe} for completion prompts,\n${ASSISTANT_COST_DEFAULT.describe} for chat prompts (built-in "assistant")`,
  },
  "cost-rules": { metavar: "PATH", help: "same as --cost rules:PATH" },
} as const satisfies FlagTable;

export const COST_OPTIONS: OptionSpec = specOf(COST_FLAGS);

/** --reward-model NAME=SPEC (serve, batch, worker): reward models a request may pick with guard: {reward: NAME}. */
export const REWARD_MODEL_FLAGS = {
  "reward-model": {
    metavar: "NAME=SPEC",
    help: 'another reward model requests may choose with guard: {reward: "NAME"};\nrepeatable (built in: "default", the prompt kind\'s, and "logprob")',
    multiple: true,
  },
} as const satisfies FlagTable;

export const REWARD_MODEL_OPTIONS: OptionSpec = specOf(REWARD_MODEL_FLAGS);

export const REWARD_MODEL_HELP = flagHelp(REWARD_MODEL_FLAGS);

/** A table's parseArgs options alone (the command adds -h/--help). */
function specOf(table: FlagTable): OptionSpec {
  const { help: _help, ...spec } = flagOptions(table);
  return spec;
}

/** The --reward-model NAME=SPEC flags as a name -> spec map. */
export function namedRewardModels(v: Values): Record<string, string> {
  return parseNamedSpecs("--reward-model", "reward", (v["reward-model"] as unknown as string[] | undefined) ?? [], { example: "skywork=head:skywork-head.json" });
}

/** The --cost-model NAME=SPEC flags (repeatable) as a name → spec map. */
export function namedCostModels(v: Values): Record<string, string> {
  return parseNamedCostSpecs((v["cost-model"] as unknown as string[] | undefined) ?? []);
}

/** --help lines of --cost and --cost-rules for the commands that hold a set of cost models (serve, batch, worker). */
export const COST_SET_HELP = flagHelp(COST_FLAGS);
