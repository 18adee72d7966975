// Requests sharing the batch (engine slots): R guarded requests at once against the same R in a
// row, on one guard with R slots (so both ways run the same engine and cache type). Alternates the
// two orders `rounds` times and reports the ratio of each round, so drift in the machine's speed
// touches both sides.
//
//   npx tsx bench/concurrency.ts [--model PATH] [--threads N] [--gpu BACKEND] [--requests R]
//                                [--tokens T] [--rounds N] [--branch auto|always] [--out FILE]
import { writeFileSync } from "node:fs";
import { createGuard } from "../src/createGuard.js";
import type { GpuOption } from "../src/engine/engine.js";
import { defaultModelPath } from "../src/paths.js";
import type { GenerationResult } from "../src/search/types.js";
import { choice, type FlagTable } from "../src/cli/flagTable.js";
import { GPU_FLAG, OUT_FLAG, benchFlags, benchUsage, countFlag, modelPathFlag, threadsFlag } from "./flags.js";
import { runWhenMain, type SectionModel, type SectionOutput } from "./measure.js";

export interface ConcurrencyConfig {
  model: string;
  threads?: number;
  gpu: GpuOption;
  requests: number;
  tokens: number;
  rounds: number;
  branch: "auto" | "always";
}

export interface ConcurrencyResult {
  config: ConcurrencyConfig;
  /** Per round: ms for the requests one after another, ms for them at once. */
  rounds: Array<{ inARowMs: number; concurrentMs: number; ratio: number }>;
  /** Median over rounds of in-a-row time / concurrent time: the throughput gain. */
  medianRatio: number;
  /** Every concurrent answer equal to the same request's answer in a row. */
  sameAnswers: boolean;
  /** Rows per decode while the requests ran at once, and one at a time. */
  rowsPerDecode: { concurrent: number; inARow: number };
}

const PROMPTS = ["Once upon a time", "The little dog ran to the park", "Lily had a red ball", "Tom and Sue went to the beach", "One day a bird", "The sun was hot", "Ben found a box", "Mia liked to sing"];

export async function measureConcurrency(cfg: ConcurrencyConfig, progress: (line: string) => void = () => {}): Promise<ConcurrencyResult> {
  const guard = await createGuard({ model: cfg.model, threads: cfg.threads, gpu: cfg.gpu, parallel: cfg.requests, contextSize: 1024 });
  try {
    const ask = (i: number) => guard.generate(PROMPTS[i % PROMPTS.length], { seed: 100 + i, maxTokens: cfg.tokens, ignoreEos: true, branch: cfg.branch });
    await ask(0); // warm-up (first decode allocates)
    const rounds: ConcurrencyResult["rounds"] = [];
    let sameAnswers = true;
    const decodeStats = { concurrent: { rows: 0, decodes: 0 }, inARow: { rows: 0, decodes: 0 } };
    const count = async <T>(into: { rows: number; decodes: number }, work: () => Promise<T>): Promise<T> => {
      const before = guard.decodeStats;
      const result = await work();
      into.rows += guard.decodeStats.rows - before.rows;
      into.decodes += guard.decodeStats.decodes - before.decodes;
      return result;
    };
    for (let round = 0; round < cfg.rounds; round++) {
      const indices = Array.from({ length: cfg.requests }, (_, i) => i);
      let t = performance.now();
      const inARow: GenerationResult[] = await count(decodeStats.inARow, async () => {
        const out: GenerationResult[] = [];
        for (const i of indices) out.push(await ask(i));
        return out;
      });
      const inARowMs = performance.now() - t;
      t = performance.now();
      const together = await count(decodeStats.concurrent, () => Promise.all(indices.map(ask)));
      const concurrentMs = performance.now() - t;
      sameAnswers &&= together.every((r, i) => r.text === inARow[i].text);
      rounds.push({ inARowMs, concurrentMs, ratio: inARowMs / concurrentMs });
      progress(`round ${round + 1}/${cfg.rounds}: ${cfg.requests} in a row ${inARowMs.toFixed(0)} ms, at once ${concurrentMs.toFixed(0)} ms (${(inARowMs / concurrentMs).toFixed(2)}x)`);
    }
    const ratios = rounds.map((r) => r.ratio).sort((a, b) => a - b);
    const mid = ratios.length >> 1;
    return {
      config: cfg,
      rounds,
      medianRatio: ratios.length % 2 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2,
      sameAnswers,
      rowsPerDecode: {
        concurrent: decodeStats.concurrent.rows / Math.max(1, decodeStats.concurrent.decodes),
        inARow: decodeStats.inARow.rows / Math.max(1, decodeStats.inARow.decodes),
      },
    };
  } finally {
    await guard.dispose();
  }
}

const FLAGS = {
  model: modelPathFlag(),
  threads: threadsFlag(),
  gpu: GPU_FLAG,
  requests: countFlag("R", "requests at once (and the guard's slots)", 4),
  tokens: countFlag("T", "answer tokens of each request", 32),
  rounds: countFlag("N", "rounds, the two orders alternating", 3),
  branch: { metavar: "B", help: "auto | always: the guard's branch setting", parse: choice(["auto", "always"] as const), default: "auto" as "auto" | "always" },
  out: OUT_FLAG,
} as const satisfies FlagTable;

async function main(): Promise<void> {
  const v = benchFlags("concurrency", FLAGS, benchUsage("concurrency", "R guarded requests at once against the same R in a row, on one guard with R slots.", FLAGS));
  const result = await measureConcurrency(
    { model: v.model ?? defaultModelPath(), threads: v.threads, gpu: v.gpu, requests: v.requests, tokens: v.tokens, rounds: v.rounds, branch: v.branch },
    (line) => process.stderr.write(`${line}\n`),
  );
  const text = JSON.stringify(result, null, 2);
  if (v.out) writeFileSync(v.out, `${text}\n`);
  process.stdout.write(
    `${result.config.requests} guarded requests of ${result.config.tokens} tokens at once: ${result.medianRatio.toFixed(2)}x the throughput of the same in a row ` +
      `(median of ${result.rounds.length} rounds; rows per decode ${result.rowsPerDecode.concurrent.toFixed(1)} vs ${result.rowsPerDecode.inARow.toFixed(1)}; ` +
      `same answers: ${result.sameAnswers})\n`,
  );
}

runWhenMain(import.meta, "bench/concurrency", main);

/** What sections 7 and 7b of bench/run.ts take besides their models. */
export interface SharingSectionOptions extends SectionOutput {
  gpu: GpuOption;
  requests: number;
  tokens: number;
  rounds: number;
}

/** Section 7 of bench/run.ts: concurrency on each given model; prints a table, returns the results. */
export async function concurrencySection(
  models: SectionModel[],
  o: SharingSectionOptions,
): Promise<ConcurrencyResult[]> {
  const results: ConcurrencyResult[] = [];
  o.progress.begin("7/7 concurrency", models.length * o.rounds);
  for (const m of models) {
    results.push(
      await measureConcurrency({ model: m.path, threads: m.threads, gpu: o.gpu, requests: o.requests, tokens: o.tokens, rounds: o.rounds, branch: "auto" }, (line) => o.progress.tick(`${m.label} ${line}`)),
    );
  }
  o.print(`## 7. Requests sharing the batch: ${o.requests} guarded requests (defaults, ${o.tokens} tokens, ignoreEos) at once vs in a row, one guard with ${o.requests} slots, ${o.rounds} alternating rounds`);
  o.print("| model | threads | in a row / at once (median) | rounds | rows per decode at once / in a row | same answers |");
  o.print("|---|---|---|---|---|---|");
  results.forEach((r, i) => {
    o.print(
      `| ${models[i].label} | ${r.config.threads ?? "default"} | **${r.medianRatio.toFixed(2)}x** | ${r.rounds.map((x) => x.ratio.toFixed(2)).join(", ")} | ` +
        `${r.rowsPerDecode.concurrent.toFixed(1)} / ${r.rowsPerDecode.inARow.toFixed(1)} | ${r.sameAnswers ? "yes" : "no"} |`,
    );
  });
  return results;
}
