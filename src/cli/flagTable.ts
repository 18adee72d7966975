// One declaration per flag of a command, for the flags outside the guard settings (those are
// src/settings.ts's): name, metavar, help, default, required, parser. The parseArgs spec, the
// --help lines and the typed values all come from the one table, so help cannot state a default
// the command does not use (it had drifted before: test/cli/helpDefaults.test.ts). Old names stay
// accepted as aliases, each with a one-line notice naming the new one.
import { UserError } from "../errors.js";
import { choiceFlag, numberFlag, parseFlags, type OptionSpec } from "./args.js";

export interface Flag<T = unknown> {
  /** What the value is, in help ("FILE"); absent: a boolean switch. */
  metavar?: string;
  /** Help text; each "\n" starts a continuation line under the first. */
  help: string;
  /** The value when the flag is not given; help states it as "(default X)". */
  default?: T;
  /** How help states the default when String(default) is not what a user reads ("all", "1 thread"). */
  defaultText?: string;
  /** Required: true, or what to add to the message that says it is missing. An empty value counts as missing. */
  required?: true | string;
  /** The flag's text as a value; a mistake is a one-line UserError. Default: the text itself. */
  parse?: Parser<T>;
  short?: string;
  /** Repeatable: the value is every given text, in order ([] when none); `parse` is not used. */
  multiple?: true;
  /** Older names still accepted (with a notice). */
  aliases?: readonly string[];
}

/** Reads flag `name` from parseArgs' values: undefined when not given. */
export type Parser<T> = (values: Record<string, unknown>, name: string) => T | undefined;

export type FlagTable = Readonly<Record<string, Flag<any>>>;

/** A flag's value: its parser's, else its default's type, else text. */
type Parsed<F> = F extends { parse: (...args: never[]) => infer R } ? Exclude<R, undefined> : F extends { default: infer D } ? (D extends string ? string : D) : string;

type ValueOf<F> = F extends { metavar: string }
  ? F extends { multiple: true }
    ? string[]
    : F extends { default: unknown } | { required: true | string }
    ? Parsed<F>
    : Parsed<F> | undefined
  : boolean;

export type FlagValues<T extends FlagTable> = { -readonly [K in keyof T]: ValueOf<T[K]> };

/** Column where help text starts (the CLI's help layout, settingFlags.ts's lines too). */
export const HELP_COLUMN = 25;

// ---- parsers ----

export const text: Parser<string> = (values, name) => {
  const raw = values[name];
  return typeof raw === "string" ? raw : undefined;
};

export function int(min = Number.MIN_SAFE_INTEGER): Parser<number> {
  return (values, name) => {
    const n = numberFlag(values, name, "int");
    if (n !== undefined && n < min) throw new UserError(`--${name} must be at least ${min}`);
    return n;
  };
}

export function float(): Parser<number> {
  return (values, name) => numberFlag(values, name);
}

export function choice<T extends string>(choices: readonly T[]): Parser<T> {
  return (values, name) => choiceFlag(values, name, choices);
}

// ---- spec, help, values ----

/** The parseArgs options of a table (aliases included), plus -h/--help. */
export function flagOptions(table: FlagTable, shared: OptionSpec = {}): OptionSpec {
  const options: OptionSpec = { ...shared };
  for (const [name, flag] of Object.entries(table)) {
    const type = flag.metavar === undefined ? "boolean" : "string";
    const multiple = flag.multiple ? { multiple: true } : {};
    options[name] = { type, ...multiple, ...(flag.short ? { short: flag.short } : {}) };
    for (const alias of flag.aliases ?? []) options[alias] = { type, ...multiple };
  }
  options.help = { type: "boolean", short: "h" };
  return options;
}

/** The help lines of the named flags (default: all, in table order), padded to the help column (the CLI's, or a command's wider one). */
export function flagHelp(table: FlagTable, names: readonly string[] = Object.keys(table), column = HELP_COLUMN): string {
  return names
    .map((name) => {
      const flag = table[name];
      if (flag === undefined) throw new Error(`no flag --${name} in the table`);
      const head = `  ${flag.short ? `-${flag.short}, ` : ""}--${name}${flag.metavar ? ` ${flag.metavar}` : ""}`;
      const stated =
        (flag.required ? " (required)" : flag.defaultText !== undefined ? ` (default ${flag.defaultText})` : flag.default !== undefined ? ` (default ${String(flag.default)})` : "") +
        (flag.aliases?.length ? ` (formerly ${flag.aliases.map((a) => `--${a}`).join(", ")})` : "");
      const lines = flag.help.split("\n");
      // A default on a line of its own when the help ends with a line break.
      lines[lines.length - 1] = lines[lines.length - 1] === "" ? stated.trim() : lines[lines.length - 1] + stated;
      const indent = " ".repeat(column);
      const first = head.length < column - 1 ? head.padEnd(column) + lines[0] : `${head}\n${indent}${lines[0]}`;
      return [first, ...lines.slice(1).map((l) => indent + l)].join("\n");
    })
    .join("\n");
}

/**
 * Parses argv against the table: unknown flags and bad values are one-line UserErrors, a missing
 * required flag names itself, an old name is read as the new one (`notice` says so, once per flag).
 * `help` is true when -h/--help was given (nothing else is then checked). `shared`: flags declared
 * in a module of their own (--model: modelFlag.ts), read from `raw`.
 */
export function readFlags<T extends FlagTable>(
  table: T,
  argv: string[],
  notice: (line: string) => void,
  shared: OptionSpec = {},
): { help: boolean; values: FlagValues<T>; raw: Record<string, string | boolean | undefined> } {
  const raw = parseFlags(argv, flagOptions(table, shared));
  if (raw.help) return { help: true, values: {} as FlagValues<T>, raw };
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(table)) {
    for (const alias of flag.aliases ?? []) {
      if (raw[alias] === undefined) continue;
      if (raw[name] !== undefined) throw new UserError(`--${alias} is the old name of --${name}: give one of them`);
      notice(`--${alias} is now --${name} (the old name still works for now)`);
      raw[name] = raw[alias];
    }
    if (flag.metavar === undefined) {
      values[name] = raw[name] === true;
      continue;
    }
    if (flag.multiple) {
      values[name] = (raw[name] as unknown as string[] | undefined) ?? [];
      continue;
    }
    const value = (flag.parse ?? text)(raw, name);
    if ((value === undefined || value === "") && flag.required) {
      throw new UserError(`--${name} ${flag.metavar} is required${typeof flag.required === "string" ? `: ${flag.required}` : ""} (see --help)`);
    }
    values[name] = value ?? flag.default;
  }
  return { help: false, values: values as FlagValues<T>, raw };
}
