// Section 6 of bench/run.ts: the guard on a model of a real shape (random weights, see
// bench/shapes), where a decode streams the weights and per-sequence overhead no longer dominates.
// Plain sampling vs the guard at its defaults (without and with a critic) vs Best-of-N; where the
// guard's time goes; the KV cells of its forks; plain decode speed per thread count.
// Only the high-level calls (generatePlain, generateGuarded, generateBestOfN) and method wrappers.
import { cpus } from "node:os";
import type { CostModel } from "../src/cost/costModel.js";
import { Critic, randomCriticSpec, type CriticActivation } from "../src/critic/index.js";
import { Engine, defaultThreads, type GpuOption } from "../src/engine/engine.js";
import { generateBestOfN } from "../src/search/baselines/bestOfN.js";
import { generateGuarded, requiredContextCells } from "../src/search/guard.js";
import { guardOptionsSchema, parseOptions } from "../src/search/options.js";
import { generatePlain } from "../src/search/plain.js";
import type { GenerationResult } from "../src/search/types.js";
import { KvCellCounter } from "./kvCells.js";
import { fmt, fmtAuto, summarize, table, timed, wrapMethod, type CallTimer, type SectionOutput, type Summary } from "./measure.js";
import { SHAPES, cachedShapeModel, ensureShapeModel, kvBytesPerCell } from "./shapes/shapes.js";

export interface ShapeConfig {
  shape: string;
  /** Threads of the measured engine (CPU). */
  threads: number;
  tokens: number;
  /** Measured runs per setting, after one unmeasured warm-up each. */
  seeds: number;
  /** Best-of-N's N (the guard's default N: the same decoded tokens per answer token). */
  bestOfN: number;
  criticHidden: number[];
  /** Plain decode speed at these thread counts (CPU only), one engine each. */
  threadCounts: number[];
  threadTokens: number;
  threadSeeds: number;
  /** KV cells of the measured engine: room for K beams of `tokens` (see requiredContextCells). */
  contextSize: number;
  /** Build the shape's file when it is missing (~2 s for 1.2 GB); otherwise the section is skipped. */
  build: boolean;
}

// About 2-3 minutes on 2 free cores at ~50 ms per 1.1B decode.
export const SHAPE_FULL: ShapeConfig = {
  shape: "tinyllama-1.1b",
  threads: 2,
  tokens: 40,
  seeds: 3,
  bestOfN: 8,
  criticHidden: [256, 256],
  threadCounts: [1, 2],
  threadTokens: 24,
  threadSeeds: 2,
  contextSize: 1024,
  build: true,
};

export const SHAPE_QUICK: ShapeConfig = { ...SHAPE_FULL, tokens: 16, seeds: 1, threadTokens: 8, threadSeeds: 1 };

const PROMPT = "Once upon a time";
const BUDGET = 1;
const ACTIVATION: CriticActivation = "gelu";
const WARMUP_SEED = 0;

interface Run {
  seed: number;
  ms: number;
  tokens: number;
  stopReason: string;
  withinBudget: boolean;
  /** Tokens decoded by engine.step (all rows of every batched decode). */
  stepTokens: number;
  /** Most KV cells live at once during the run. */
  peakKvCells: number;
}

interface Context extends SectionOutput {
  cost: CostModel;
  gpu: GpuOption;
}

export async function shapeSection(cfg: ShapeConfig, ctx: Context) {
  const { print, progress } = ctx;
  const shape = SHAPES[cfg.shape];
  if (!shape) throw new Error(`unknown shape ${cfg.shape}; known: ${Object.keys(SHAPES).join(", ")}`);
  const buildCommand = `npm run shapes:build -- ${cfg.shape}`;
  let modelPath = cachedShapeModel(cfg.shape);
  if (!modelPath && cfg.build) {
    progress.begin(`6/7 building ${cfg.shape}`, 1);
    progress.tick(buildCommand);
    try {
      modelPath = ensureShapeModel(cfg.shape).path;
    } catch (error) {
      const why = `could not build the ${cfg.shape} model (${(error as Error).message}); build it with \`${buildCommand}\``;
      print(`## 6. Model shape ${cfg.shape}: skipped: ${why}`);
      return { skipped: why };
    }
  }
  if (!modelPath) {
    const why = `the ${cfg.shape} model is not built; build it with \`${buildCommand}\``;
    print(`## 6. Model shape ${cfg.shape}: skipped: ${why}`);
    return { skipped: why };
  }

  const defaults = parseOptions(guardOptionsSchema, {}, "guard options");
  const g = { beams: defaults.beams, samples: defaults.samples, width: defaults.width };
  const engine = await Engine.load({ modelPath, threads: cfg.threads, contextSize: cfg.contextSize, gpu: ctx.gpu });
  const info = engine.info;
  const prompt = engine.completionPrompt(PROMPT);
  const critic = Critic.fromSpec(randomCriticSpec({ nEmbd: info.nEmbd, hidden: cfg.criticHidden, activation: ACTIVATION, seed: 1 }), "random critic");
  const kv = new KvCellCounter(engine);
  const steps = wrapMethod(engine, "step", "step tokens", (args) => (args[0] as Int32Array).length);

  const measure = async (seed: number, fn: () => Promise<GenerationResult>): Promise<Run> => {
    kv.peak = 0;
    const stepBefore = steps.timer.units;
    const { ms, value } = await timed(fn);
    return {
      seed,
      ms,
      tokens: value.tokens,
      stopReason: value.stopReason,
      withinBudget: value.withinBudget,
      stepTokens: steps.timer.units - stepBefore,
      peakKvCells: kv.peak,
    };
  };
  const guardLabel = `guard K=${g.beams} N=${g.samples} W=${g.width}`;
  const criticLabel = `${guardLabel} + critic [${cfg.criticHidden}]`;
  const jobs: Array<{ label: string; run: (seed: number) => Promise<Run> }> = [
    {
      label: "plain sample",
      run: (seed) =>
        measure(seed, () =>
          generatePlain({ engine, promptTokens: prompt, method: "sample", options: { seed, maxTokens: cfg.tokens, ignoreEos: true }, cost: ctx.cost, budget: BUDGET }),
        ),
    },
    {
      label: guardLabel,
      run: (seed) =>
        measure(seed, () => generateGuarded({ engine, promptTokens: prompt, cost: ctx.cost, options: { seed, maxTokens: cfg.tokens, ignoreEos: true, budget: BUDGET } })),
    },
    {
      label: criticLabel,
      run: (seed) =>
        measure(seed, () =>
          generateGuarded({ engine, promptTokens: prompt, cost: ctx.cost, critic, options: { seed, maxTokens: cfg.tokens, ignoreEos: true, budget: BUDGET } }),
        ),
    },
    {
      label: `best-of-${cfg.bestOfN} (reward)`,
      run: (seed) =>
        measure(seed, () =>
          generateBestOfN({ engine, promptTokens: prompt, cost: ctx.cost, budget: BUDGET, n: cfg.bestOfN, rule: { kind: "reward" }, seed, maxTokens: cfg.tokens }),
        ),
    },
  ];

  const seeds = Array.from({ length: cfg.seeds }, (_, i) => i + 1);
  const runs = new Map<string, Run[]>(jobs.map((j) => [j.label, []]));
  // Where the guard's time goes: wrappers around the guard + critic runs only.
  const attribution: CallTimer[] = [];
  let attributedMs = 0;
  let attributedTokens = 0;
  try {
    progress.begin(`6/7 ${cfg.shape}`, jobs.length * (seeds.length + 1));
    for (const job of jobs) {
      progress.tick(`warm-up ${job.label}`);
      await job.run(WARMUP_SEED);
    }
    for (const seed of seeds) {
      for (const job of jobs) {
        progress.tick(`${job.label} seed ${seed}`);
        if (job.label !== criticLabel) {
          runs.get(job.label)!.push(await job.run(seed));
          continue;
        }
        const wrapped = [
          // Sub-calls of the step wrapper above: these time the engine itself.
          wrapMethod(engine, "step", "decode: engine.step (batched)"),
          wrapMethod(engine, "prefill", "decode: engine.prefill (prompt)"),
          wrapMethod(engine, "sample", `sampling: engine.sample (vocab ${info.nVocab})`),
          wrapMethod(engine, "hidden", `hidden states: engine.hidden (${info.nEmbd} dims)`),
          wrapMethod(critic, "evaluate", "critic: critic.evaluate"),
          wrapMethod(ctx.cost, "stepCosts", "cost model: cost.stepCosts"),
          wrapMethod(engine, "detokenize", "engine.detokenize"),
          wrapMethod(engine, "fork", "KV: engine.fork"),
          wrapMethod(engine, "truncate", "KV: engine.truncate"),
          wrapMethod(engine, "release", "KV: engine.release"),
        ];
        let run: Run;
        try {
          run = await job.run(seed);
        } finally {
          for (const w of [...wrapped].reverse()) w.restore();
        }
        runs.get(job.label)!.push(run);
        attributedMs += run.ms;
        attributedTokens += run.tokens;
        for (const w of wrapped) {
          const t = attribution.find((a) => a.name === w.timer.name);
          if (t) {
            t.calls += w.timer.calls;
            t.ms += w.timer.ms;
          } else attribution.push({ ...w.timer });
        }
      }
    }
  } finally {
    steps.restore();
    kv.restore();
    await engine.dispose();
  }

  // ---- comparison ----
  const settings = jobs.map((j) => {
    const r = runs.get(j.label)!;
    return {
      label: j.label,
      runs: r,
      wallMs: summarize(r.map((x) => x.ms)),
      msPerToken: summarize(r.filter((x) => x.tokens > 0).map((x) => x.ms / x.tokens)),
      tokens: summarize(r.map((x) => x.tokens)),
      stepTokensPerAnswerToken: r.reduce((s, x) => s + x.stepTokens, 0) / Math.max(1, r.reduce((s, x) => s + x.tokens, 0)),
      peakKvCells: Math.max(...r.map((x) => x.peakKvCells)),
      overBudget: r.filter((x) => !x.withinBudget).length,
    };
  });
  const plain = settings[0];
  const ratio = (s: { msPerToken: Summary }) => ({ mean: s.msPerToken.mean / plain.msPerToken.mean, best: s.msPerToken.min / plain.msPerToken.min });
  const bytesPerCell = kvBytesPerCell(shape);
  const mib = (cells: number) => (cells * bytesPerCell) / 2 ** 20;
  const where = ctx.gpu === false ? `${info.threads} threads` : `gpu ${String(info.gpu)}`;
  print(`## 6. Model shape ${cfg.shape}: ${shape.description}; random weights`);
  print(`model ${modelPath} (nEmbd ${info.nEmbd}, vocab ${info.nVocab}), ${where}, context ${info.contextSize}, prompt ${JSON.stringify(PROMPT)} (${prompt.length} tokens)`);
  print();
  print(`### 6a. Plain vs guard vs best-of-N (${cfg.tokens} tokens, ignoreEos except best-of-N, ${cfg.seeds} seeds + warm-up)`);
  print(
    table(
      ["setting", "tokens", "wall s mean", "ms/tok mean", "ms/tok best", "x plain mean", "x plain best", "decoded/tok", "peak KV cells", "peak KV MiB", "over budget"],
      settings.map((s) => [
        s.label,
        fmt(s.tokens.mean, 0),
        fmt(s.wallMs.mean / 1000, 2),
        fmt(s.msPerToken.mean),
        fmt(s.msPerToken.min),
        fmt(ratio(s).mean, 2),
        fmt(ratio(s).best, 2),
        fmt(s.stepTokensPerAnswerToken, 2),
        String(s.peakKvCells),
        fmt(mib(s.peakKvCells), 1),
        `${s.overBudget}/${s.runs.length}`,
      ]),
    ),
  );
  print("x plain = time per answer token / plain sampling's (mean over mean, min over min); decoded/tok = tokens");
  print("engine.step decodes per answer token (a block's N candidates each decode its tokens: ~N).");

  // ---- attribution ----
  const measured = attribution.reduce((s, t) => s + t.ms, 0);
  const share = (ms: number) => (100 * ms) / attributedMs;
  const group = (prefix: string) => attribution.filter((t) => t.name.startsWith(prefix)).reduce((s, t) => s + t.ms, 0);
  const groups = {
    decodeMs: group("decode:"),
    samplingMs: group("sampling:"),
    hiddenMs: group("hidden states:"),
    criticMs: group("critic:"),
    costModelMs: group("cost model:"),
    otherMs: attributedMs - measured,
  };
  print();
  print(`### 6b. Where the guard's time goes (${criticLabel}, random critic ${ACTIVATION}, ${cfg.seeds} seeds)`);
  const rows = attribution.map((t) => [t.name, String(t.calls), fmt(t.ms), fmt(share(t.ms)), fmtAuto((1000 * t.ms) / Math.max(1, t.calls))]);
  rows.push(["the rest (search bookkeeping in JS)", "", fmt(groups.otherMs), fmt(share(groups.otherMs)), ""]);
  rows.push(["total", String(cfg.seeds), fmt(attributedMs), "100.0", ""]);
  print(table(["component", "calls", "total ms", "share %", "us/call"], rows));
  print(
    `decode ${fmt(share(groups.decodeMs))} %, sampling ${fmt(share(groups.samplingMs))} %, hidden ${fmt(share(groups.hiddenMs), 2)} %, ` +
      `critic ${fmt(share(groups.criticMs), 2)} %, cost model ${fmt(share(groups.costModelMs), 2)} %, rest ${fmt(share(groups.otherMs), 2)} %; ` +
      `${fmt((1000 * attributedTokens) / attributedMs, 1)} answer tok/s`,
  );

  // ---- KV memory ----
  const kvRow = (label: string, cells: number) => [label, String(cells), fmt(mib(cells), 1), fmt(cells / plain.peakKvCells, 2)];
  const bound = requiredContextCells(prompt.length, { ...g, maxTokens: cfg.tokens });
  print();
  print(`### 6c. KV memory (f16 cache: ${shape.nLayers} layers x ${shape.nKvHeads} KV heads x ${shape.nEmbd / shape.nHeads} x (K+V) x 2 bytes = ${fmtAuto(bytesPerCell / 1024)} KiB per cell)`);
  print(
    table(
      ["what", "cells", "MiB", "x plain"],
      [
        ...settings.map((s) => kvRow(`peak, ${s.label}`, s.peakKvCells)),
        kvRow(`bound: requiredContextCells (prompt + K*T + N*W + K + 1)`, bound),
        kvRow(`allocated: the engine's context`, info.contextSize),
      ],
    ),
  );
  print("Peak = most cells live at once, counted as llama.cpp holds them: a fork shares its source's cells,");
  print("so the beams share the prompt and their common prefixes; every decoded candidate token takes a cell.");

  // ---- threads ----
  const threadResults: Array<{ threads: number; msPerToken: Summary; tokPerSec: number }> = [];
  if (ctx.gpu === false) {
    progress.begin(`6/7 ${cfg.shape} threads`, cfg.threadCounts.length * (cfg.threadSeeds + 2));
    for (const threads of cfg.threadCounts) {
      progress.tick(`load engine threads=${threads}`);
      const e = await Engine.load({ modelPath, threads, contextSize: 256 });
      try {
        const perToken: number[] = [];
        for (let seed = WARMUP_SEED; seed <= cfg.threadSeeds; seed++) {
          progress.tick(`plain threads=${threads} seed ${seed}`);
          const { ms, value } = await timed(() =>
            generatePlain({ engine: e, promptTokens: prompt, method: "sample", options: { seed, maxTokens: cfg.threadTokens, ignoreEos: true } }),
          );
          if (seed !== WARMUP_SEED) perToken.push(ms / value.tokens);
        }
        const s = summarize(perToken);
        threadResults.push({ threads, msPerToken: s, tokPerSec: 1000 / s.mean });
      } finally {
        await e.dispose();
      }
    }
    const base = threadResults[0];
    const best = threadResults.reduce((a, b) => (b.msPerToken.mean < a.msPerToken.mean ? b : a));
    print();
    print(`### 6d. Threads: plain sampling on ${cfg.shape}, ${cfg.threadTokens} tokens, ${cfg.threadSeeds} seeds + warm-up (${cpus().length} CPUs)`);
    print(
      table(
        ["threads", "tok/s mean", "ms/tok mean", "ms/tok best", `speed vs threads=${base.threads}`],
        threadResults.map((r) => [String(r.threads), fmtAuto(r.tokPerSec), fmtAuto(r.msPerToken.mean), fmtAuto(r.msPerToken.min), `${fmtAuto(base.msPerToken.mean / r.msPerToken.mean)}x`]),
      ),
    );
    print(`fastest here: ${best.threads} threads (defaultThreads gives ${defaultThreads(info.nEmbd)} for nEmbd ${info.nEmbd} on ${cpus().length} CPUs).`);
  }

  return {
    shape: { ...shape, kvBytesPerCell: bytesPerCell },
    modelPath,
    engine: info,
    settings: { ...cfg, guard: g, prompt: PROMPT, promptTokens: prompt.length, budget: BUDGET, costModel: ctx.cost.name, criticActivation: ACTIVATION, warmupSeed: WARMUP_SEED },
    comparison: settings.map((s) => ({ ...s, ratioToPlain: ratio(s) })),
    attribution: { totalMs: attributedMs, answerTokens: attributedTokens, components: attribution.map((t) => ({ ...t, sharePercent: share(t.ms) })), ...groups },
    kv: { bytesPerCell, requiredContextCells: bound, contextSize: info.contextSize, peakCells: Object.fromEntries(settings.map((s) => [s.label, s.peakKvCells])) },
    threads: threadResults,
  };
}
