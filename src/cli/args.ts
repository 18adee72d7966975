// Flag parsing for the CLI: node:util parseArgs plus typed number/choice readers that turn
// every mistake into a one-line UserError.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UserError } from "../errors.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags(argv: string[], options: OptionSpec): Record<string, string | boolean | undefined> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new UserError(`unexpected argument "${positionals[0]}" (flags start with --; see --help)`);
    return values as Record<string, string | boolean | undefined>;
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`${(error as Error).message.replace(/\. To specify a positional.*$/s, "")} (see --help)`);
  }
}

export function numberFlag(values: Record<string, unknown>, name: string, kind: "int" | "float" = "float"): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(value) || (kind === "int" && !Number.isInteger(value))) {
    throw new UserError(`--${name} expects ${kind === "int" ? "an integer" : "a number"}, got "${String(raw)}"`);
  }
  return value;
}

export function choiceFlag<T extends string>(values: Record<string, unknown>, name: string, choices: readonly T[]): T | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (!choices.includes(raw as T)) throw new UserError(`--${name} must be one of ${choices.join(", ")}; got "${String(raw)}"`);
  return raw as T;
}

export function stringFlag(values: Record<string, unknown>, name: string): string | undefined {
  const raw = values[name];
  return typeof raw === "string" ? raw : undefined;
}
