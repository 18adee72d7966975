// Builds random-weight GGUFs at real model shapes into the cache (see shapes.ts).
//
//   npm run shapes:build -- [SHAPE ...] [--force] [--list]
//
// Prints each file's path on stdout (one line per shape), a progress bar on stderr.
import { flagHelp, int, readFlags, type FlagTable } from "../../src/cli/flagTable.js";
import { UserError } from "../../src/errors.js";
import { Progress } from "../../src/util/progress.js";
import { DEFAULT_SHAPE, SHAPES, SHAPES_DIR_ENV, TOKENIZER_SOURCE, ensureShapeModel, getShape, kvBytesPerCell, shapePath, shapesDir, writeShapeModel } from "./shapes.js";

/** The flags (the SHAPE names are positional): declared once, help and values derived. */
const FLAGS = {
  force: { help: "rebuild even when the file is there and complete" },
  seed: { metavar: "N", help: "seed of the weights", parse: int(), default: 1 },
  list: { help: "print the shapes and exit" },
} as const satisfies FlagTable;

const USAGE = `Usage: npm run shapes:build -- [SHAPE ...] [--force] [--list]

Writes random-weight llama GGUFs at real model shapes (seeded noise, std 0.02; the Llama 2
tokenizer of ${TOKENIZER_SOURCE})
into ${shapesDir()} (set ${SHAPES_DIR_ENV} to change it). A complete file is not rebuilt.

  SHAPE      one or more of: ${Object.keys(SHAPES).join(", ")} (default ${DEFAULT_SHAPE})
${flagHelp(FLAGS, undefined, 13)}
  -h, --help this text
`;

/** The SHAPE names apart from the flags (a flag's value, as --seed N's, stays with its flag). */
function splitPositionals(argv: readonly string[]): { flags: string[]; positionals: string[] } {
  const flags: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-")) positionals.push(arg);
    else {
      flags.push(arg);
      const name = arg.replace(/^--?/, "");
      if (FLAGS[name as keyof typeof FLAGS] && "metavar" in FLAGS[name as keyof typeof FLAGS] && i + 1 < argv.length) flags.push(argv[++i]!);
    }
  }
  return { flags, positionals };
}

/** The project's progress bar (src/util/progress.ts) in MiB written, made at the first update (when the size is known). */
function progressBar(label: string): { update(written: number, total: number): void; end(): void } {
  let bar: Progress | undefined;
  let shown = 0;
  return {
    update(written, total) {
      bar ??= new Progress(Math.ceil(total / 2 ** 20), { unit: "MiB", label });
      const mib = Math.floor(written / 2 ** 20);
      if (mib > shown) bar.tick(mib - shown);
      shown = Math.max(shown, mib);
    },
    end() {
      bar?.finish();
    },
  };
}

function main(): number {
  const { flags, positionals } = splitPositionals(process.argv.slice(2));
  let parsed;
  try {
    parsed = readFlags(FLAGS, flags, (line) => process.stderr.write(`shapes:build: ${line}\n`));
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    process.stderr.write(`shapes:build: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  const { help, values } = parsed;
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.list) {
    for (const s of Object.values(SHAPES)) {
      process.stdout.write(`${s.name.padEnd(16)} ${s.description}; KV ${(kvBytesPerCell(s) / 1024).toFixed(0)} KiB per cell at f16\n`);
    }
    return 0;
  }
  const seed = values.seed;
  const names = positionals.length > 0 ? positionals : [DEFAULT_SHAPE];
  for (const name of names) {
    if (!SHAPES[name]) {
      process.stderr.write(`shapes:build: unknown shape "${name}"; known: ${Object.keys(SHAPES).join(", ")}\n`);
      return 2;
    }
  }
  for (const name of names) {
    const bar = progressBar(name);
    const t0 = performance.now();
    const path = shapePath(name);
    const result = values.force
      ? { path, built: true as const, plan: writeShapeModel(getShape(name), path, { seed, onProgress: bar.update }) }
      : ensureShapeModel(name, { seed, onProgress: bar.update });
    bar.end();
    const mib = (result.plan.layout.totalBytes / 2 ** 20).toFixed(0);
    const what = result.built ? `built in ${((performance.now() - t0) / 1000).toFixed(1)} s` : "already built";
    process.stderr.write(`${name}: ${mib} MiB, ${what}\n`);
    process.stdout.write(`${result.path}\n`);
  }
  return 0;
}

process.exitCode = main();
