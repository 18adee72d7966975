// Flag parsing for the CLI: node:util parseArgs plus typed number/choice readers that turn
// every mistake into a one-line UserError.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UserError } from "../errors.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags(argv: string[], options: OptionSpec): Record<string, string | boolean | undefined> {
  try {
    const { values, positionals } = parseArgs({ args: attachNegativeNumbers(argv, options), options, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new UserError(`unexpected argument "${positionals[0]}" (flags start with --; see --help)`);
    return values as Record<string, string | boolean | undefined>;
  } catch (error) {
    if (error instanceof UserError) throw error;
    // node:util's messages run over several lines ("...is ambiguous.\nDid you forget..."): keep the first.
    const first = (error as Error).message.split("\n")[0]!.replace(/\. To specify a positional.*$/s, "");
    throw new UserError(`${first} (see --help)`);
  }
}

const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * `--budget -1` → `--budget=-1`: node:util reads a value that starts with a dash as a forgotten
 * value ("argument is ambiguous"); a negative number after a flag that takes a value is that
 * flag's value, so it reaches the flag's own range check ("budget must be > 0").
 */
function attachNegativeNumbers(argv: string[], options: OptionSpec): string[] {
  const takesValue = (token: string): boolean => token.startsWith("--") && options[token.slice(2)]?.type === "string";
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") return out.concat(argv.slice(i));
    const next = argv[i + 1];
    if (next !== undefined && NEGATIVE_NUMBER.test(next) && takesValue(token)) {
      out.push(`${token}=${next}`);
      i++;
    } else out.push(token);
  }
  return out;
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
