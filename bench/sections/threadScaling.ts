// bench/run.ts section 5: threads.
import { cpus } from "node:os";
import { Engine, type GpuOption } from "../../src/engine/engine.js";
import { fmtAuto, table } from "../measure.js";
import { MODEL_PATH, WARMUP_SEED, print, progress, runPlain, seedList, settingResult, type Bench, type Config, type RunRecord } from "../harness.js";

export async function threadScaling(b: Omit<Bench, "engine">, cfg: Config, gpu: GpuOption) {
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
