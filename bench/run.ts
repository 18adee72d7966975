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
import { chatSection } from "./chat.js";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_COST_RULES } from "../src/cost/load.js";
import { RulesCostModel } from "../src/cost/rules.js";
import { Critic, randomCriticSpec, referenceForward, seededRandom, type CriticActivation } from "../src/critic/index.js";
import { Engine, type GpuOption } from "../src/engine/engine.js";
import { PACKAGE_ROOT, SHARED_DIR } from "../src/paths.js";
import { generateGuarded } from "../src/search/guard.js";
import { generatePlain } from "../src/search/plain.js";
import type { GenerationResult } from "../src/search/types.js";
import {
  GPU_FLAGS,
  Progress,
  benchCall,
  fmt,
  fmtAuto,
  summarize,
  table,
  timed,
  wrapMethod,
  writeJsonAtomic,
  type CallTimer,
  type Summary,
} from "./measure.js";
import { SHAPE_FULL, SHAPE_QUICK, shapeSection, type ShapeConfig } from "./shapeSection.js";
import { SHAPES, cachedShapeModel } from "./shapes/shapes.js";
import { concurrencySection } from "./concurrency.js";
import { httpConcurrencySection } from "./httpConcurrency.js";
import { plainBaselineSection } from "./plainBaseline.js";

// ---- settings ----

type Branch = "auto" | "always";

interface Config {
  /** Measured runs per setting; each setting also gets one unmeasured warm-up run first. */
  seeds: number;
  maxTokens: number;
  beams: number;
  /** Section 1: (N, W, branch) settings of the guard. */
  guardSettings: Array<{ samples: number; width: number; branch: Branch }>;
  /** Section 2: the guard at its defaults (N=16, W=8) with a random critic of these hidden widths. */
  attributionCriticHidden: number[];
  /** Section 3: native vs TypeScript critic forward. */
  criticBench: { nEmbd: number[]; rows: number[]; hidden: number[]; samples: number; sampleMs: number };
  /** Section 4: answer lengths, at one (N, W). */
  lengths: number[];
  lengthSeeds: number;
  lengthSetting: { samples: number; width: number; branch: Branch };
  /**
   * Section 5: plain sampling per thread count, each on its own engine. deadlineMs caps each run:
   * 2 threads on 2 busy cores can slow down by orders of magnitude.
   */
  threads: { counts: number[]; tokens: number; seeds: number; deadlineMs: number };
}

// Sized for about a minute on a 2-core machine (well inside the 3-minute target).
const FULL: Config = {
  seeds: 10,
  maxTokens: 200,
  beams: 4,
  guardSettings: [
    { samples: 8, width: 8, branch: "auto" },
    { samples: 4, width: 8, branch: "always" },
    { samples: 8, width: 8, branch: "always" },
    { samples: 16, width: 8, branch: "always" },
  ],
  attributionCriticHidden: [64, 64],
  criticBench: { nEmbd: [64, 2048], rows: [16, 256], hidden: [256, 256], samples: 7, sampleMs: 50 },
  lengths: [100, 200, 400],
  lengthSeeds: 8,
  // The full search: decoded/tok = N shows that no prefix is re-evaluated.
  lengthSetting: { samples: 8, width: 8, branch: "always" },
  threads: { counts: [1, 2], tokens: 200, seeds: 5, deadlineMs: 4_000 },
};

const QUICK: Config = {
  ...FULL,
  seeds: 2,
  maxTokens: 50,
  criticBench: { ...FULL.criticBench, samples: 2, sampleMs: 10 },
  lengths: [25, 50, 100],
  lengthSeeds: 1,
  threads: { counts: [1, 2], tokens: 20, seeds: 1, deadlineMs: 2_000 },
};

const PROMPT = "Once upon a time";
const BUDGET = 1;
const ACTIVATION: CriticActivation = "gelu";
const MODEL_PATH = join(SHARED_DIR, "models", "stories260K.gguf");
/** Large enough for K=4 beams of the longest answer (see requiredContextCells in guard.ts). */
const CONTEXT_SIZE = 8192;

// ---- command line ----

const USAGE = `Usage: npx tsx bench/run.ts [--out FILE] [--quick] [shape options]

  --out FILE          where to write the JSON results (default bench-results/bench-<timestamp>.json)
  --quick             fewer seeds and shorter answers: a smoke check of under 30 s (section 6 only
                      with --shape or --shape-only)
  --gpu BACKEND       llama.cpp backend of every engine: cpu | auto | cuda | metal | vulkan (default cpu)

Section 6, a random-weight model of a real shape (bench/shapes; built into the cache when missing):
  --shape NAME        the shape: ${Object.keys(SHAPES).join(", ")} (default ${SHAPE_FULL.shape})
  --no-shape          skip section 6
  --shape-only        run section 6 only
  --shape-tokens N    answer tokens (default ${SHAPE_FULL.tokens}; ${SHAPE_QUICK.tokens} with --quick)
  --shape-seeds N     measured seeds per setting (default ${SHAPE_FULL.seeds}; ${SHAPE_QUICK.seeds} with --quick)
  --shape-threads N   llama.cpp threads of the measured engine (default ${SHAPE_FULL.threads})
  --no-build          skip section 6 when the shape's file is missing instead of building it
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
  process.stderr.write(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) usageError(`--${name} must be a positive integer (got ${raw})`);
  return n;
}

function parseCommandLine(): CommandLine {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        out: { type: "string" },
        quick: { type: "boolean" },
        gpu: { type: "string" },
        shape: { type: "string" },
        "no-shape": { type: "boolean" },
        "shape-only": { type: "boolean" },
        "shape-tokens": { type: "string" },
        "shape-seeds": { type: "string" },
        "shape-threads": { type: "string" },
        "no-build": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const out = values.out ? resolve(values.out as string) : join(PACKAGE_ROOT, "bench-results", `bench-${stamp}.json`);
  const quick = values.quick === true;
  const gpuName = (values.gpu as string | undefined) ?? "cpu";
  if (!(gpuName in GPU_FLAGS)) usageError(`--gpu must be one of ${Object.keys(GPU_FLAGS).join(", ")} (got ${gpuName})`);
  const shapeName = values.shape as string | undefined;
  if (shapeName !== undefined && !SHAPES[shapeName]) usageError(`unknown shape "${shapeName}"; known: ${Object.keys(SHAPES).join(", ")}`);
  const shapeOnly = values["shape-only"] === true;
  if (shapeOnly && values["no-shape"]) usageError("--shape-only and --no-shape exclude each other");
  // --quick stays a smoke check: the 1.1B shape takes minutes, so it runs only when asked for.
  const wantShape = !values["no-shape"] && (!quick || shapeName !== undefined || shapeOnly);
  const base = quick ? SHAPE_QUICK : SHAPE_FULL;
  const shape: ShapeConfig | undefined = wantShape
    ? {
        ...base,
        shape: shapeName ?? base.shape,
        tokens: positiveInt("shape-tokens", values["shape-tokens"] as string | undefined, base.tokens),
        seeds: positiveInt("shape-seeds", values["shape-seeds"] as string | undefined, base.seeds),
        threads: positiveInt("shape-threads", values["shape-threads"] as string | undefined, base.threads),
        build: values["no-build"] !== true,
      }
    : undefined;
  return { out, quick, gpu: GPU_FLAGS[gpuName], shape, shapeOnly };
}

// ---- one generation, timed ----

interface RunRecord {
  seed: number;
  ms: number;
  tokens: number;
  cost: number;
  withinBudget: boolean;
  fallback: boolean;
  resamples: number;
  stopReason: string;
}

function record(seed: number, ms: number, r: GenerationResult): RunRecord {
  return {
    seed,
    ms,
    tokens: r.tokens,
    cost: r.cost,
    withinBudget: r.withinBudget,
    fallback: r.fallback,
    resamples: r.resamples,
    stopReason: r.stopReason,
  };
}

interface Bench {
  engine: Engine;
  cost: RulesCostModel;
  prompt: number[];
}

/**
 * An AbortSignal that reads as aborted once `ms` have passed. The generation loop is synchronous,
 * so a timer (AbortSignal.timeout) could not fire inside it; the loop reads `aborted` every token.
 */
function deadlineSignal(ms: number): AbortSignal {
  const signal = new AbortController().signal;
  const deadline = performance.now() + ms;
  Object.defineProperty(signal, "aborted", { get: () => performance.now() > deadline });
  return signal;
}

async function runPlain(
  b: Bench,
  method: "sample" | "greedy",
  seed: number,
  maxTokens: number,
  engine = b.engine,
  deadlineMs?: number,
): Promise<RunRecord> {
  const signal = deadlineMs === undefined ? undefined : deadlineSignal(deadlineMs);
  const { ms, value } = await timed(() =>
    generatePlain({
      engine,
      promptTokens: b.prompt,
      method,
      options: { seed, maxTokens, ignoreEos: true },
      cost: b.cost,
      budget: BUDGET,
      signal,
    }),
  );
  return record(seed, ms, value);
}

async function runGuard(
  b: Bench,
  seed: number,
  maxTokens: number,
  setting: { beams: number; samples: number; width: number; branch?: Branch } | undefined,
  critic?: Critic,
): Promise<RunRecord> {
  const { ms, value } = await timed(() =>
    generateGuarded({
      engine: b.engine,
      promptTokens: b.prompt,
      cost: b.cost,
      critic,
      // Without a setting the guard keeps its defaults (K=4, N=8, W=8, branch auto).
      options: { seed, maxTokens, ignoreEos: true, budget: BUDGET, ...setting },
    }),
  );
  return record(seed, ms, value);
}

/** Runs of one setting, summarised. Per-token times skip runs that wrote nothing (full fallback). */
interface SettingResult {
  label: string;
  runs: RunRecord[];
  wallMs: Summary;
  msPerToken: Summary;
  tokens: Summary;
  overBudget: number;
  fallbacks: number;
}

function settingResult(label: string, runs: RunRecord[]): SettingResult {
  return {
    label,
    runs,
    wallMs: summarize(runs.map((r) => r.ms)),
    msPerToken: summarize(runs.filter((r) => r.tokens > 0).map((r) => r.ms / r.tokens)),
    tokens: summarize(runs.map((r) => r.tokens)),
    overBudget: runs.filter((r) => !r.withinBudget).length,
    fallbacks: runs.filter((r) => r.fallback).length,
  };
}

const seedList = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
/** Seed of the unmeasured warm-up runs. */
const WARMUP_SEED = 0;

// ---- output ----

const transcript: string[] = [];
const progress = new Progress();

function print(text = ""): void {
  progress.end();
  process.stdout.write(`${text}\n`);
  transcript.push(text);
}

/** Runs fn while counting the tokens the engine decodes (batched steps and prompt prefill). */
async function countingDecodes<T>(engine: Engine, fn: () => Promise<T>): Promise<{ value: T; stepTokens: number; prefillTokens: number }> {
  const step = wrapMethod(engine, "step", "step", (args) => (args[0] as Int32Array).length);
  const prefill = wrapMethod(engine, "prefill", "prefill", (args) => (args[1] as readonly number[]).length);
  try {
    const value = await fn();
    return { value, stepTokens: step.timer.units, prefillTokens: prefill.timer.units };
  } finally {
    prefill.restore();
    step.restore();
  }
}

// ---- section 1: plain vs guarded, same length ----

async function plainVsGuard(b: Bench, cfg: Config) {
  const seeds = seedList(cfg.seeds);
  type Job = { label: string; run: (seed: number) => Promise<RunRecord> };
  const jobs: Job[] = [
    { label: "plain sample", run: (s) => runPlain(b, "sample", s, cfg.maxTokens) },
    { label: "greedy", run: (s) => runPlain(b, "greedy", s, cfg.maxTokens) },
    ...cfg.guardSettings.map((g) => ({
      label: `guard K=${cfg.beams} N=${g.samples} W=${g.width} ${g.branch}`,
      run: (s: number) => runGuard(b, s, cfg.maxTokens, { beams: cfg.beams, ...g }),
    })),
  ];
  progress.begin("1/7 plain vs guard", jobs.length * (seeds.length + 1));
  for (const job of jobs) {
    progress.tick(`warm-up ${job.label}`);
    await job.run(WARMUP_SEED);
  }
  // Seeds outer, settings inner: slow drift of the machine hits every setting alike.
  const runs = new Map<string, RunRecord[]>(jobs.map((j) => [j.label, []]));
  for (const seed of seeds) {
    for (const job of jobs) {
      progress.tick(`${job.label} seed ${seed}`);
      runs.get(job.label)!.push(await job.run(seed));
    }
  }
  const results = jobs.map((j) => settingResult(j.label, runs.get(j.label)!));
  const plain = results[0];
  const rows = results.map((r) => [
    r.label,
    fmt(r.tokens.mean, 0),
    fmt(r.wallMs.mean),
    fmt(r.wallMs.min),
    fmt(1000 / r.msPerToken.mean, 0),
    fmt(1000 / r.msPerToken.min, 0),
    fmt(r.msPerToken.mean / plain.msPerToken.mean, 2),
    fmt(r.msPerToken.min / plain.msPerToken.min, 2),
    `${r.overBudget}/${r.runs.length}`,
    `${r.fallbacks}`,
  ]);
  print(`## 1. Plain sampling vs guarded generation (ignoreEos, maxTokens ${cfg.maxTokens}, ${cfg.seeds} seeds + warm-up)`);
  print(
    table(
      ["setting", "tokens", "wall ms mean", "wall ms min", "tok/s mean", "tok/s best", "x plain mean", "x plain best", "over budget", "fallbacks"],
      rows,
    ),
  );
  print("x plain = time per token / plain sampling's time per token (mean over mean, min over min).");
  print("over budget = answers whose cost exceeds the budget; a fallback answer is shorter than maxTokens.");
  return results.map((r) => ({ ...r, ratioToPlain: { mean: r.msPerToken.mean / plain.msPerToken.mean, best: r.msPerToken.min / plain.msPerToken.min } }));
}

// ---- section 2: where guarded step time goes ----

async function attribution(b: Bench, cfg: Config) {
  const { engine, cost } = b;
  const critic = Critic.fromSpec(
    randomCriticSpec({ nEmbd: engine.info.nEmbd, hidden: cfg.attributionCriticHidden, activation: ACTIVATION, seed: 1 }),
    "random critic",
  );
  const seeds = seedList(cfg.seeds);
  progress.begin("2/7 attribution", seeds.length + 1);
  progress.tick("warm-up guard + critic");
  // The full search (branch "always"): its decoded tokens per answer token are N.
  const full = { beams: cfg.beams, samples: 8, width: 8, branch: "always" as const };
  await runGuard(b, WARMUP_SEED, cfg.maxTokens, full, critic);

  // Wrap instance methods (the source stays as it is); every wrapper is removed afterwards.
  const wrapped = [
    wrapMethod(engine, "step", "engine.step (batched decode)", (args) => (args[0] as Int32Array).length),
    wrapMethod(engine, "sample", "engine.sample"),
    wrapMethod(engine, "hidden", "engine.hidden (read hidden states)"),
    wrapMethod(critic, "evaluate", "critic.evaluate (native forward)"),
    wrapMethod(cost, "stepCosts", "cost.stepCosts (lexicon)"),
    wrapMethod(engine, "detokenize", "engine.detokenize"),
    wrapMethod(engine, "fork", "engine.fork (KV share)"),
    wrapMethod(engine, "prefill", "engine.prefill (prompt)"),
  ];
  const runs: RunRecord[] = [];
  try {
    for (const seed of seeds) {
      progress.tick(`guard + critic seed ${seed}`);
      runs.push(await runGuard(b, seed, cfg.maxTokens, full, critic));
    }
  } finally {
    for (const w of wrapped) w.restore();
  }
  const totalMs = runs.reduce((s, r) => s + r.ms, 0);
  const timers: CallTimer[] = wrapped.map((w) => w.timer);
  const measuredMs = timers.reduce((s, t) => s + t.ms, 0);
  const share = (ms: number) => (100 * ms) / totalMs;
  const rows = timers.map((t) => [t.name, String(t.calls), fmt(t.ms), fmt(share(t.ms)), fmt((1000 * t.ms) / Math.max(1, t.calls), 1)]);
  rows.push(["everything else (search bookkeeping in JS)", "", fmt(totalMs - measuredMs), fmt(share(totalMs - measuredMs)), ""]);
  rows.push(["total generation time", String(runs.length), fmt(totalMs), "100.0", ""]);
  const hiddenCritic = timers[2].ms + timers[3].ms;
  const tokens = runs.reduce((s, r) => s + r.tokens, 0);
  print(`## 2. Where guarded generation time goes (K=${cfg.beams} N=8 W=8 branch always, random critic [${cfg.attributionCriticHidden}] ${ACTIVATION}, ${cfg.seeds} seeds)`);
  print(table(["component", "calls", "total ms", "share %", "us/call"], rows));
  print(`hidden states + critic: ${fmt(share(hiddenCritic), 2)} % of generation time; ${fmt(1000 / (totalMs / tokens), 0)} tok/s with the critic;`);
  print(`${fmt(timers[0].units / tokens, 2)} tokens decoded by engine.step per answer token (one per candidate: N).`);
  return {
    critic: { nEmbd: engine.info.nEmbd, hidden: cfg.attributionCriticHidden, activation: ACTIVATION },
    runs,
    totalMs,
    components: timers.map((t) => ({ ...t, sharePercent: share(t.ms) })),
    otherMs: totalMs - measuredMs,
    hiddenPlusCriticSharePercent: share(hiddenCritic),
    stepTokensPerAnswerToken: timers[0].units / tokens,
  };
}

// ---- section 3: native vs TypeScript critic forward ----

function criticForward(cfg: Config) {
  const c = cfg.criticBench;
  const results = [];
  progress.begin("3/7 critic forward", c.nEmbd.length * c.rows.length);
  for (const nEmbd of c.nEmbd) {
    const spec = randomCriticSpec({ nEmbd, hidden: c.hidden, activation: ACTIVATION, seed: 7 });
    const critic = Critic.fromSpec(spec, "random critic");
    for (const rows of c.rows) {
      progress.tick(`nEmbd ${nEmbd} rows ${rows}`);
      const rand = seededRandom(nEmbd * 1000 + rows);
      // Inputs of the scale a normalised last-layer state has; z spans the safety state's range.
      const hidden = Float32Array.from({ length: rows * nEmbd }, () => 4 * rand() - 2);
      const z = Float32Array.from({ length: rows }, () => rand());
      const native = benchCall(() => critic.evaluate(hidden, z, rows), c.samples, c.sampleMs);
      const ts = benchCall(() => referenceForward(spec, hidden, z, rows), c.samples, c.sampleMs);
      const out = critic.evaluate(hidden, z, rows);
      const ref = referenceForward(spec, hidden, z, rows);
      let safetyDiff = 0;
      let valueDiff = 0;
      for (let r = 0; r < rows; r++) {
        safetyDiff = Math.max(safetyDiff, Math.abs(out.safety[r] - ref.safety[r]));
        valueDiff = Math.max(valueDiff, Math.abs(out.value[r] - ref.value[r]));
      }
      const n = summarize(native.usPerCall);
      const t = summarize(ts.usPerCall);
      results.push({
        nEmbd,
        rows,
        hidden: c.hidden,
        native: { ...native, summary: n },
        typescript: { ...ts, summary: t },
        speedup: { mean: t.mean / n.mean, best: t.min / n.min },
        maxAbsDiff: { safety: safetyDiff, value: valueDiff },
      });
    }
  }
  print(`## 3. Critic forward: native C++ vs TypeScript referenceForward (hidden [${c.hidden}], ${ACTIVATION}, ${c.samples} samples)`);
  print(
    table(
      ["nEmbd x rows", "C++ us/call", "C++ best", "C++ us/row", "TS us/call", "TS best", "TS us/row", "speedup", "speedup best", "max|diff| safety", "max|diff| value"],
      results.map((r) => [
        `${r.nEmbd} x ${r.rows}`,
        fmtAuto(r.native.summary.mean),
        fmtAuto(r.native.summary.min),
        fmtAuto(r.native.summary.mean / r.rows),
        fmtAuto(r.typescript.summary.mean),
        fmtAuto(r.typescript.summary.min),
        fmtAuto(r.typescript.summary.mean / r.rows),
        fmt(r.speedup.mean, 1),
        fmt(r.speedup.best, 1),
        r.maxAbsDiff.safety.toExponential(1),
        r.maxAbsDiff.value.toExponential(1),
      ]),
    ),
  );
  print("TS = the float64 reference implementation (clear, not tuned); C++ = float32 SIMD kernel. us/row uses the mean.");
  return results;
}

// ---- section 4: scaling with answer length ----

async function lengthScaling(b: Bench, cfg: Config) {
  const seeds = seedList(cfg.lengthSeeds);
  const g = cfg.lengthSetting;
  progress.begin("4/7 length scaling", cfg.lengths.length * 2 * (seeds.length + 1));
  const perLength = [];
  for (const length of cfg.lengths) {
    const jobs = [
      { method: "plain", run: (s: number) => runPlain(b, "sample", s, length) },
      { method: "guard", run: (s: number) => runGuard(b, s, length, { beams: cfg.beams, ...g }) },
    ];
    for (const job of jobs) {
      progress.tick(`warm-up ${job.method} ${length} tokens`);
      await job.run(WARMUP_SEED);
    }
    const runs: Record<string, RunRecord[]> = { plain: [], guard: [] };
    // Tokens the guard decodes per answer token: constant across lengths iff no prefix is re-evaluated.
    const decoded = { stepTokens: 0, prefillTokens: 0, answerTokens: 0 };
    for (const seed of seeds) {
      for (const job of jobs) {
        progress.tick(`${job.method} ${length} tokens seed ${seed}`);
        if (job.method === "plain") {
          runs.plain.push(await job.run(seed));
          continue;
        }
        const counted = await countingDecodes(b.engine, () => job.run(seed));
        runs.guard.push(counted.value);
        decoded.stepTokens += counted.stepTokens;
        decoded.prefillTokens += counted.prefillTokens;
        decoded.answerTokens += counted.value.tokens;
      }
    }
    perLength.push({
      length,
      plain: settingResult("plain sample", runs.plain),
      guard: settingResult(`guard K=${cfg.beams} N=${g.samples} W=${g.width} ${g.branch}`, runs.guard),
      guardDecoded: { ...decoded, stepTokensPerAnswerToken: decoded.stepTokens / decoded.answerTokens },
    });
  }
  const rows = perLength.map((p) => [
    String(p.length),
    fmt(p.plain.wallMs.mean),
    fmt(p.plain.msPerToken.mean, 3),
    fmt(p.guard.wallMs.mean),
    fmt(p.guard.msPerToken.mean, 3),
    fmt(p.guard.tokens.mean, 0),
    fmt(p.guardDecoded.stepTokensPerAnswerToken, 2),
    fmt(p.guard.msPerToken.mean / p.plain.msPerToken.mean, 2),
    fmt(p.guard.msPerToken.min / p.plain.msPerToken.min, 2),
  ]);
  const growth = [];
  for (let i = 1; i < perLength.length; i++) {
    const [a, z] = [perLength[i - 1], perLength[i]];
    growth.push({
      from: a.length,
      to: z.length,
      lengthRatio: z.length / a.length,
      plain: z.plain.wallMs.mean / a.plain.wallMs.mean,
      guard: z.guard.wallMs.mean / a.guard.wallMs.mean,
      plainBest: z.plain.wallMs.min / a.plain.wallMs.min,
      guardBest: z.guard.wallMs.min / a.guard.wallMs.min,
    });
  }
  print(`## 4. Scaling with answer length (ignoreEos; guard K=${cfg.beams} N=${g.samples} W=${g.width}; ${cfg.lengthSeeds} seeds + warm-up; context ${CONTEXT_SIZE})`);
  print(table(["answer tokens", "plain ms", "plain ms/tok", "guard ms", "guard ms/tok", "guard tokens", "decoded/tok", "guard/plain", "guard/plain best"], rows));
  print(
    table(
      ["time ratio", "plain mean", "plain best", "guard mean", "guard best"],
      growth.map((r) => [`t(${r.to})/t(${r.from})`, fmt(r.plain, 2), fmt(r.plainBest, 2), fmt(r.guard, 2), fmt(r.guardBest, 2)]),
    ),
  );
  print("guard/plain = guarded time per token / plain time per token (mean over mean; best = min over min).");
  print("decoded/tok = tokens the guard decodes (engine.step) per answer token.");
  print(`A time ratio of ${fmt(growth[0]?.lengthRatio ?? 2, 1)} would be exactly linear. Attention per token grows with the context on any transformer,`);
  print("so plain sampling's time per token grows with length too; what matters is that the guard does not");
  print("re-evaluate prefixes (beams fork the KV cache): decoded/tok stays at N for every length, and guard/plain");
  print("stays flat up to one effect: each of the N decoded tokens attends over its whole context, and batching");
  print("amortises a decode's fixed cost over N rows but not attention, so guard/plain drifts up towards N as");
  print("attention's share of the work grows with length.");
  return { setting: { beams: cfg.beams, ...g }, perLength, growth };
}

// ---- section 5: threads ----

async function threadScaling(b: Omit<Bench, "engine">, cfg: Config, gpu: GpuOption) {
  const t = cfg.threads;
  const seeds = seedList(t.seeds);
  progress.begin("5/7 threads", t.counts.length * (seeds.length + 2));
  const results = [];
  for (const threads of t.counts) {
    progress.tick(`load engine threads=${threads}`);
    const engine = await Engine.load({ modelPath: MODEL_PATH, threads, gpu });
    try {
      const bench = { ...b, engine };
      progress.tick(`warm-up threads=${threads}`);
      const warmup = await runPlain(bench, "sample", WARMUP_SEED, t.tokens, engine, t.deadlineMs);
      const runs: RunRecord[] = [];
      for (const seed of seeds) {
        progress.tick(`plain threads=${threads} seed ${seed}`);
        runs.push(await runPlain(bench, "sample", seed, t.tokens, engine, t.deadlineMs));
      }
      const perToken = runs.filter((r) => r.tokens > 0).map((r) => r.ms / r.tokens);
      results.push({ threads, warmup, worstMsPerToken: Math.max(...perToken), ...settingResult(`plain, threads ${threads}`, runs) });
    } finally {
      await engine.dispose();
    }
  }
  const base = results[0];
  print(`## 5. Threads: plain sampling, ${t.tokens} tokens, ${t.seeds} seeds + warm-up, one engine per thread count (${cpus().length} CPUs)`);
  print(
    table(
      ["threads", "tok/s mean", "tok/s best", "ms/tok mean", "ms/tok worst", "warm-up ms/tok", "aborted", `time/tok vs threads=${base.threads}`],
      results.map((r) => [
        String(r.threads),
        fmtAuto(1000 / r.msPerToken.mean),
        fmtAuto(1000 / r.msPerToken.min),
        fmtAuto(r.msPerToken.mean),
        fmtAuto(r.worstMsPerToken),
        fmtAuto(r.warmup.ms / Math.max(1, r.warmup.tokens)),
        `${[r.warmup, ...r.runs].filter((x) => x.stopReason === "aborted").length}/${r.runs.length + 1}`,
        `${fmtAuto(r.msPerToken.mean / base.msPerToken.mean)}x`,
      ]),
    ),
  );
  print(`Each run (warm-up included) stops after ${t.deadlineMs / 1000} s ("aborted"); its tokens/s counts the tokens it wrote.`);
  print("The worst and warm-up columns show the spread: with as many llama.cpp threads as cores, a decode");
  print("waits for every thread, so it stalls whenever another process holds a core.");
  return results;
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

  const sharing: Array<{ label: string; path: string; threads?: number }> = [];
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
