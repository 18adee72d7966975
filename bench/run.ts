// Benchmark (not a test): InferenceGuard's cost against plain sampling on this machine.
//
//   npx tsx bench/run.ts [--out FILE] [--quick] [--shape NAME | --no-shape | --shape-only] [--gpu BACKEND]
//
// Prints tables to stdout, a progress line to stderr, and writes every raw number plus the settings
// to JSON (default bench-results/bench-<timestamp>.json). Sections 1-4 share one engine in one
// process; section 5 loads its own engines; section 6 (bench/shapeSection.ts) runs on a
// random-weight model of a real shape (bench/shapes); section 7 (bench/concurrency.ts) loads a guard
// with 4 slots per model, 7b (bench/httpConcurrency.ts) the HTTP server beside the library on it;
// section 8 (bench/chat.ts) is chat; section 9 (bench/plainBaseline.ts) our plain sampling against
// node-llama-cpp's LlamaCompletion on the shape. All ratios are between runs of this one invocation.
//
// This file is the command line (one flag table: bench/flags.ts) and the order of the sections; sections 1-5 are bench/sections/,
// sharing bench/harness.ts (settings, timed runs, the printed transcript).
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { DEFAULT_COST_RULES } from "../src/cost/load.js";
import { RulesCostModel } from "../src/cost/rules.js";
import { Engine, type GpuOption } from "../src/engine/engine.js";
import { PACKAGE_ROOT } from "../src/paths.js";
import { choice, flagHelp, int, type FlagTable } from "../src/cli/flagTable.js";
import { chatSection } from "./chat.js";
import { concurrencySection } from "./concurrency.js";
import { ACTIVATION, BUDGET, CONTEXT_SIZE, FULL, MODEL_PATH, PROMPT, QUICK, WARMUP_SEED, print, progress, transcript, type Bench } from "./harness.js";
import { BENCH_COLUMN, GPU_FLAG, benchFlags } from "./flags.js";
import { httpConcurrencySection } from "./httpConcurrency.js";
import { fmt, writeJsonAtomic, type SectionModel } from "./measure.js";
import { plainBaselineSection } from "./plainBaseline.js";
import { attribution } from "./sections/attribution.js";
import { criticForward } from "./sections/criticForward.js";
import { lengthScaling } from "./sections/lengthScaling.js";
import { plainVsGuard } from "./sections/plainVsGuard.js";
import { threadScaling } from "./sections/threadScaling.js";
import { SHAPE_FULL, SHAPE_QUICK, shapeSection, type ShapeConfig } from "./shapeSection.js";
import { SHAPES, cachedShapeModel } from "./shapes/shapes.js";

// ---- command line ----

/** bench/run.ts's flags, declared once: the parseArgs spec, --help and the values come from here. */
const RUN_FLAGS = {
  out: { metavar: "FILE", help: "where to write the JSON results", defaultText: "bench-results/bench-<timestamp>.json" },
  quick: { help: "fewer seeds and shorter answers: a smoke check of under 30 s (section 6 only\nwith --shape or --shape-only)" },
  gpu: { ...GPU_FLAG, help: "llama.cpp backend of every engine: cpu | auto | cuda | metal | vulkan" },
  shape: { metavar: "NAME", help: `the shape: ${Object.keys(SHAPES).join(", ")}`, parse: choice(Object.keys(SHAPES)), defaultText: SHAPE_FULL.shape },
  "no-shape": { help: "skip section 6" },
  "shape-only": { help: "run section 6 only" },
  "shape-tokens": { metavar: "N", help: "answer tokens", parse: int(1), defaultText: `${SHAPE_FULL.tokens}; ${SHAPE_QUICK.tokens} with --quick` },
  "shape-seeds": { metavar: "N", help: "measured seeds per setting", parse: int(1), defaultText: `${SHAPE_FULL.seeds}; ${SHAPE_QUICK.seeds} with --quick` },
  "shape-threads": { metavar: "N", help: "llama.cpp threads of the measured engine", parse: int(1), defaultText: String(SHAPE_FULL.threads) },
  "no-build": { help: "skip section 6 when the shape's file is missing instead of building it" },
} as const satisfies FlagTable;

const USAGE = `Usage: npx tsx bench/run.ts [--out FILE] [--quick] [shape options]

${flagHelp(RUN_FLAGS, ["out", "quick", "gpu"], BENCH_COLUMN)}

Section 6, a random-weight model of a real shape (bench/shapes; built into the cache when missing):
${flagHelp(RUN_FLAGS, ["shape", "no-shape", "shape-only", "shape-tokens", "shape-seeds", "shape-threads", "no-build"], BENCH_COLUMN)}
`;

interface CommandLine {
  out: string;
  quick: boolean;
  gpu: GpuOption;
  /** Section 6's settings, or undefined to skip it. */
  shape: ShapeConfig | undefined;
  shapeOnly: boolean;
}

function usageError(message: string): never {
  process.stderr.write(`bench/run: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseCommandLine(): CommandLine {
  const f = benchFlags("run", RUN_FLAGS, USAGE);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const out = f.out !== undefined ? resolve(f.out) : join(PACKAGE_ROOT, "bench-results", `bench-${stamp}.json`);
  const { quick, "shape-only": shapeOnly } = f;
  if (shapeOnly && f["no-shape"]) usageError("--shape-only and --no-shape exclude each other");
  // --quick stays a smoke check: the 1.1B shape takes minutes, so it runs only when asked for.
  const wantShape = !f["no-shape"] && (!quick || f.shape !== undefined || shapeOnly);
  const base = quick ? SHAPE_QUICK : SHAPE_FULL;
  const shape: ShapeConfig | undefined = wantShape
    ? {
        ...base,
        shape: f.shape ?? base.shape,
        tokens: f["shape-tokens"] ?? base.tokens,
        seeds: f["shape-seeds"] ?? base.seeds,
        threads: f["shape-threads"] ?? base.threads,
        build: !f["no-build"],
      }
    : undefined;
  return { out, quick, gpu: f.gpu, shape, shapeOnly };
}

// ---- main ----

async function main(): Promise<void> {
  const { out, quick, gpu, shape, shapeOnly } = parseCommandLine();
  const cfg = quick ? QUICK : FULL;
  const startedAt = new Date().toISOString();
  const t0 = performance.now();

  const cost = RulesCostModel.fromFile(DEFAULT_COST_RULES);
  print(`# inference-guard benchmark${quick ? " (--quick)" : ""}${shapeOnly ? " (--shape-only)" : ""}${gpu === false ? "" : ` (--gpu ${gpu})`}`);
  print(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "?"}; all ratios are from this one run`);

  const results: Record<string, unknown> = {};
  const load: Record<string, { before: number; after: number }> = {};
  // Other processes on these few cores skew timings: record the load average around each section.
  const section = async (name: string, fn: () => unknown) => {
    const before = loadavg()[0];
    results[name] = await fn();
    load[name] = { before, after: loadavg()[0] };
    print(`(1-min load average before / after: ${fmt(before, 2)} / ${fmt(load[name].after, 2)} on ${cpus().length} CPUs)`);
    print();
  };
  let info: Engine["info"] | undefined;
  let prompt: number[] | undefined;
  if (!shapeOnly) {
    const engine = await Engine.load({ modelPath: MODEL_PATH, contextSize: CONTEXT_SIZE, gpu });
    const bench: Bench = { engine, cost, prompt: engine.completionPrompt(PROMPT) };
    info = engine.info;
    prompt = bench.prompt;
    print(`model ${info.modelPath} (nEmbd ${info.nEmbd}, vocab ${info.nVocab}), threads ${info.threads}, context ${info.contextSize}`);
    print(`cost ${cost.name}, budget ${BUDGET}, prompt ${JSON.stringify(PROMPT)} (${bench.prompt.length} tokens)`);
    print();
    try {
      await section("plainVsGuard", () => plainVsGuard(bench, cfg));
      await section("attribution", () => attribution(bench, cfg));
      await section("criticForward", () => criticForward(cfg));
      await section("lengthScaling", () => lengthScaling(bench, cfg));
    } finally {
      await engine.dispose();
    }
    // Its own engines: the main one is gone, so only one llama.cpp context competes for the cores.
    await section("threads", () => threadScaling({ cost, prompt: bench.prompt }, cfg, gpu));
  } else {
    print();
  }
  if (shape) await section("shape", () => shapeSection(shape, { cost, gpu, print, progress }));
  else print("## 6. Model shape: skipped (--no-shape, or --quick without --shape; `npm run bench -- --shape-only` runs it alone)");

  const sharing: SectionModel[] = [];
  if (!shapeOnly) sharing.push({ label: "stories260K", path: MODEL_PATH, threads: 1 });
  const shapeFile = shape ? cachedShapeModel(shape.shape) : undefined;
  if (shape && shapeFile) sharing.push({ label: shape.shape, path: shapeFile, threads: gpu === false ? shape.threads : undefined });
  if (sharing.length > 0) {
    await section("concurrency", () =>
      concurrencySection(sharing, { gpu, requests: 4, tokens: 32, rounds: quick ? 1 : 3, print, progress }),
    );
    await section("httpConcurrency", () =>
      httpConcurrencySection(sharing, { gpu, requests: 4, tokens: 32, rounds: quick ? 1 : 3, print, progress }),
    );
  }

  if (!shapeOnly) await section("chat", () => chatSection({ requests: quick ? 8 : 40, print }));
  else print("## 8. Chat: skipped (--shape-only)");

  if (shape && shapeFile && gpu === false) {
    await section("plainBaseline", () =>
      plainBaselineSection({ label: shape.shape, path: shapeFile, threads: shape.threads }, { tokens: quick ? 16 : 48, rounds: quick ? 1 : 3, print, progress }),
    );
  } else print("## 9. Plain sampling against node-llama-cpp: skipped (needs section 6's shape, on CPU)");

  const seconds = (performance.now() - t0) / 1000;
  print(`total benchmark time ${fmt(seconds)} s; JSON: ${out}`);
  writeJsonAtomic(out, {
    benchmark: "inference-guard bench/run.ts",
    command: ["npx", "tsx", "bench/run.ts", ...process.argv.slice(2)].join(" "),
    quick,
    startedAt,
    finishedAt: new Date().toISOString(),
    seconds,
    environment: {
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      totalMemBytes: totalmem(),
      loadavgAtEnd: loadavg(),
      loadavg1minPerSection: load,
    },
    gpu: gpu === false ? "cpu" : gpu,
    engine: info ?? null,
    settings: { ...cfg, shape: shape ?? null, shapeOnly, prompt: PROMPT, promptTokens: prompt?.length ?? null, costModel: cost.name, budget: BUDGET, criticActivation: ACTIVATION, contextSize: CONTEXT_SIZE, warmupSeed: WARMUP_SEED },
    results,
    printed: transcript.join("\n"),
  });
}

main().catch((error) => {
  progress.end();
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
