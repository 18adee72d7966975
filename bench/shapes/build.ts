// Builds random-weight GGUFs at real model shapes into the cache (see shapes.ts).
//
//   npm run shapes:build -- [SHAPE ...] [--force] [--list]
//
// Prints each file's path on stdout (one line per shape), a progress bar on stderr.
import { parseArgs } from "node:util";
import { DEFAULT_SHAPE, SHAPES, SHAPES_DIR_ENV, TOKENIZER_SOURCE, ensureShapeModel, getShape, kvBytesPerCell, shapePath, shapesDir, writeShapeModel } from "./shapes.js";

const USAGE = `Usage: npm run shapes:build -- [SHAPE ...] [--force] [--list]

Writes random-weight llama GGUFs at real model shapes (seeded noise, std 0.02; the Llama 2
tokenizer of ${TOKENIZER_SOURCE})
into ${shapesDir()} (set ${SHAPES_DIR_ENV} to change it). A complete file is not rebuilt.

  SHAPE      one or more of: ${Object.keys(SHAPES).join(", ")} (default ${DEFAULT_SHAPE})
  --force    rebuild even when the file is there and complete
  --seed N   seed of the weights (default 1)
  --list     print the shapes and exit
  -h, --help this text
`;

function progressBar(label: string): { update(written: number, total: number): void; end(): void } {
  const tty = process.stderr.isTTY === true;
  const started = performance.now();
  let lastPercent = -1;
  return {
    update(written, total) {
      const fraction = written / total;
      const percent = Math.floor(fraction * 100);
      if (percent === lastPercent) return;
      lastPercent = percent;
      const seconds = (performance.now() - started) / 1000;
      const width = 30;
      const filled = Math.round(fraction * width);
      const text = `${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(percent).padStart(3)}% ${(written / 2 ** 20).toFixed(0)}/${(total / 2 ** 20).toFixed(0)} MiB ${seconds.toFixed(1)} s`;
      if (tty) process.stderr.write(`\r\x1b[K${text}`);
      else if (percent % 10 === 0) process.stderr.write(`${text}\n`);
    },
    end() {
      if (tty) process.stderr.write("\n");
    },
  };
}

function main(): number {
  let parsed;
  try {
    parsed = parseArgs({
      options: { force: { type: "boolean" }, list: { type: "boolean" }, seed: { type: "string" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    process.stderr.write(`shapes:build: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.list) {
    for (const s of Object.values(SHAPES)) {
      process.stdout.write(`${s.name.padEnd(16)} ${s.description}; KV ${(kvBytesPerCell(s) / 1024).toFixed(0)} KiB per cell at f16\n`);
    }
    return 0;
  }
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed)) {
    process.stderr.write(`shapes:build: --seed must be an integer (got ${values.seed})\n`);
    return 2;
  }
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
