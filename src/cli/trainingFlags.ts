// The training commands' shared vocabulary (train-cost, train-probe, train-reward, train-critic):
// each flag's name, metavar, parser and older names are declared here once; a command gives the
// default (its trainer's, so help states the real one) and, where its meaning needs it, its own
// help. One name is one kind of thing everywhere: --data-dir DIR is the shared data folder,
// --data FILE a JSON Lines file of examples; a share held out of training is
// --validation-fraction, whatever the command calls the split inside.
import { join, relative } from "node:path";
import { UserError } from "../errors.js";
import { PACKAGE_ROOT, SHARED_DIR } from "../paths.js";
import { float, int, type Parser } from "./flagTable.js";

/** What a command may say differently: its help, a stricter parser, the old names it took. */
export interface TrainingFlagOptions {
  help?: string;
  parse?: Parser<number>;
  aliases?: readonly string[];
}

function numeric(metavar: string, parse: Parser<number>, help: string) {
  return (value: number, o: TrainingFlagOptions = {}) => ({
    metavar,
    help: o.help ?? help,
    parse: o.parse ?? parse,
    default: value,
    ...(o.aliases ? { aliases: o.aliases } : {}),
  });
}

// ---- parsers ----

/** A number > 0. */
export const positive: Parser<number> = (values, name) => {
  const x = float()(values, name);
  if (x !== undefined && !(x > 0)) throw new UserError(`--${name} must be > 0, got ${x}`);
  return x;
};

/** A number >= 0. */
export const nonNegative: Parser<number> = (values, name) => {
  const x = float()(values, name);
  if (x !== undefined && !(x >= 0)) throw new UserError(`--${name} must be >= 0, got ${x}`);
  return x;
};

/** A share in [0, max), or (0, max) without `zero`. */
export function fraction(max = 1, zero = true): Parser<number> {
  return (values, name) => {
    const x = float()(values, name);
    if (x !== undefined && !((zero ? x >= 0 : x > 0) && x < max)) throw new UserError(`--${name} must be in ${zero ? "[" : "("}0, ${max}), got ${x}`);
    return x;
  };
}

// ---- the flags (each command spreads them into its table under these names) ----

export const seed = numeric("S", int(0), "seeds the split, the subsets and the shuffles: the same seed gives the same model");
export const epochs = numeric("E", int(1), "passes over the training split");
/** Name the optimiser in the help ("Adam learning rate"). */
export const lr = numeric("X", positive, "learning rate");
export const l2 = numeric("X", nonNegative, "L2 penalty on the weights");
export const batchSize = numeric("B", int(1), "examples per optimiser step");
export const validationFraction = numeric("F", fraction(), "share held out of training for the validation metrics");
export const threads = numeric("N", int(1), "llama.cpp threads");

export const DEFAULT_DATA_DIR = join(SHARED_DIR, "data");

/** --data-dir DIR: the shared data folder (safety/, toxicity/, ...), shown as it is beside the package on every machine. */
export function dataDir(o: { help?: string; aliases?: readonly string[] } = {}) {
  return {
    metavar: "DIR",
    help: o.help ?? "folder of the shared data",
    default: DEFAULT_DATA_DIR,
    defaultText: relative(PACKAGE_ROOT, DEFAULT_DATA_DIR),
    ...(o.aliases ? { aliases: o.aliases } : {}),
  };
}

/** --max-examples N: a seeded subset of about N examples (default: all). */
export function maxExamples(help: string) {
  return { metavar: "N", help, parse: int(1), defaultText: "all" };
}
