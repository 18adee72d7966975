// bench/run.ts section 2: where guarded step time goes.
import { Critic, randomCriticSpec } from "../../src/critic/index.js";
import { fmt, table, wrapMethod, type CallTimer } from "../measure.js";
import { ACTIVATION, WARMUP_SEED, print, progress, runGuard, seedList, type Bench, type Config, type RunRecord } from "../harness.js";

export async function attribution(b: Bench, cfg: Config) {
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
