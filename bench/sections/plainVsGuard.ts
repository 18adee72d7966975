// bench/run.ts section 1: plain vs guarded, same length.
import { fmt, table } from "../measure.js";
import { WARMUP_SEED, print, progress, runGuard, runPlain, seedList, settingResult, type Bench, type Config, type RunRecord } from "../harness.js";

export async function plainVsGuard(b: Bench, cfg: Config) {
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
