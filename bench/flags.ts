// The bench scripts' command lines, each from one flag table (src/cli/flagTable.ts, as the CLI's
// commands): the parseArgs spec, the --help text and the typed values come from the one
// declaration, so a script's help cannot name a flag or a default it does not have.
import { flagHelp, float, int, readFlags, type FlagTable, type FlagValues, type Parser } from "../src/cli/flagTable.js";
import type { GpuOption } from "../src/engine/engine.js";
import { UserError } from "../src/errors.js";
import { gpuFlag } from "./measure.js";

/** Where the bench's help text starts (its flags are short). */
export const BENCH_COLUMN = 22;

/** "Usage: npx tsx bench/NAME.ts [options]", what it measures, and the table's help lines. */
export function benchUsage(script: string, about: string, table: FlagTable): string {
  return `Usage: npx tsx bench/${script}.ts [options]\n\n${about}\n\n${flagHelp(table, undefined, BENCH_COLUMN)}\n  -h, --help          this help\n`;
}

/**
 * The script's flags as typed values. --help prints `usage` and exits 0; an unknown flag or a bad
 * value prints one line, then `usage`, and exits 2 (nothing has started yet).
 */
export function benchFlags<T extends FlagTable>(script: string, table: T, usage: string, argv = process.argv.slice(2)): FlagValues<T> {
  try {
    const { help, values } = readFlags(table, argv, (line) => process.stderr.write(`bench/${script}: ${line}\n`));
    if (help) {
      process.stdout.write(usage);
      process.exit(0);
    }
    return values;
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    process.stderr.write(`bench/${script}: ${error.message}\n\n${usage}`);
    process.exit(2);
  }
}

/** --gpu BACKEND: cpu | auto | cuda | metal | vulkan, as measure.ts's gpuFlag reads it (the table's default: false, "cpu"). */
export function gpuBackend(values: Record<string, unknown>, name: string): GpuOption | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  try {
    return gpuFlag(raw as string);
  } catch (error) {
    throw new UserError((error as Error).message);
  }
}

// ---- flags several scripts take, declared once ----

/** --model PATH: the GGUF to measure. */
export function modelPathFlag(defaultText = "the packaged stories260K") {
  return { metavar: "PATH", help: "GGUF to measure", defaultText };
}

/** --threads N: llama.cpp threads (absent: the engine's own default). */
export function threadsFlag(defaultText = "by the model's size, as the engine picks") {
  return { metavar: "N", help: "llama.cpp threads", parse: int(1), defaultText };
}

export const GPU_FLAG = { metavar: "BACKEND", help: "llama.cpp backend: cpu | auto | cuda | metal | vulkan", parse: gpuBackend, default: false as GpuOption, defaultText: "cpu" };

/** A whole number >= 1 with its default. */
export function countFlag(metavar: string, help: string, value: number) {
  return { metavar, help, parse: int(1), default: value };
}

export const OUT_FLAG = { metavar: "FILE", help: "also write the results as JSON" };

/** A share in [0, 1]. */
export const share: Parser<number> = (values, name) => {
  const x = float()(values, name);
  if (x !== undefined && !(x >= 0 && x <= 1)) throw new UserError(`--${name} must be in [0, 1], got ${x}`);
  return x;
};
