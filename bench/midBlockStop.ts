// Stopping doomed candidates mid-block (issue 18 item 3): the guard with the shipped lexicon, whose
// settled step cost lets it stop decoding a candidate as soon as its block is certain to end over
// budget, against the same guard with the same lexicon hidden behind a wrapper that offers only
// cost/stepCosts (each candidate decoded to its block's end, as before). Story openings of the
// testbed on stories260K, seeds 0..N-1, the two in alternating order; reports rows decoded per
// answer token, time, answers over budget (re-counted from the text) and fallbacks. The sampled
// answers differ (fewer rows shift the draws of the others), so the figures are totals over seeds.
//
//   npx tsx bench/midBlockStop.ts [--seeds 200] [--budget 1] [--max-tokens 150]
import { createGuard } from "../src/createGuard.js";
import type { CostModel } from "../src/cost/costModel.js";
import { DEFAULT_COST_RULES, loadCostModel } from "../src/cost/load.js";
import { join } from "node:path";
import { SHARED_DIR } from "../src/paths.js";
import { float, int, type FlagTable } from "../src/cli/flagTable.js";
import { benchFlags, benchUsage } from "./flags.js";
import { fmt, Progress, table } from "./measure.js";

const FLAGS = {
  seeds: { metavar: "N", help: "seeds 0..N-1, each run by both variants", parse: int(1), default: 200 },
  budget: { metavar: "D", help: "safety budget", parse: float(), default: 1 },
  "max-tokens": { metavar: "T", help: "answer length cap", parse: int(1), default: 150 },
} as const satisfies FlagTable;

const { seeds: SEEDS, budget: BUDGET, "max-tokens": MAX_TOKENS } = benchFlags(
  "midBlockStop",
  FLAGS,
  benchUsage("midBlockStop", "The guard stopping doomed candidates mid-block against decoding each to its block's end.", FLAGS),
);
const OPENINGS = ["Once upon a time", "One day, a little boy named Tom", "The dog and the cat", "Lily was playing in the park when"];

const lexicon = await loadCostModel(`rules:${DEFAULT_COST_RULES}`);
if (lexicon.settledStepCost === undefined) throw new Error("the lexicon has no settled step cost");
// The same charges, no settled cost: the search decodes every candidate to its block's end.
const blockEnd: CostModel = { name: lexicon.name, maxCost: lexicon.maxCost, cost: (t) => lexicon.cost(t), stepCosts: (items) => lexicon.stepCosts(items) };
const variants = [
  { name: "stop mid-block", cost: lexicon },
  { name: "block end only", cost: blockEnd },
];

const guard = await createGuard({ model: join(SHARED_DIR, "models", "stories260K.gguf"), threads: 1 });
const totals = variants.map(() => ({ seconds: 0, tokens: 0, rows: 0, over: 0, fallbacks: 0, empty: 0 }));
const progress = new Progress();
progress.begin(`${SEEDS} seeds x ${variants.length}`, SEEDS);
try {
  for (let seed = 0; seed < SEEDS; seed++) {
    const prompt = OPENINGS[seed % OPENINGS.length]!;
    const order = seed % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) {
      const t = totals[i]!;
      const rows = guard.decodeStats.rows;
      const t0 = performance.now();
      const r = await guard.generate(prompt, { seed, budget: BUDGET, maxTokens: MAX_TOKENS, cost: variants[i]!.cost });
      t.seconds += (performance.now() - t0) / 1000;
      t.rows += guard.decodeStats.rows - rows - guard.countPromptTokens(prompt);
      t.tokens += r.tokens;
      if ((await lexicon.cost(r.text)) > BUDGET) t.over++;
      if (r.fallback) t.fallbacks++;
      if (r.text.trim() === "") t.empty++;
    }
    progress.tick(`seed ${seed}`);
  }
} finally {
  progress.end();
  await guard.dispose();
}

const base = totals[1]!;
console.log(`## Mid-block stop: stories260K, the conflict lexicon at budget ${BUDGET}, ${SEEDS} seeds, max ${MAX_TOKENS} tokens, guard defaults`);
console.log(
  table(
    ["variant", "rows / answer token", "time vs block end only", "answer tokens", "over budget", "fallbacks", "empty answers"],
    variants.map((variant, i) => {
      const t = totals[i]!;
      return [variant.name, fmt(t.rows / Math.max(1, t.tokens), 2), `${fmt(t.seconds / base.seconds, 3)}x`, String(t.tokens), String(t.over), String(t.fallbacks), String(t.empty)];
    }),
  ),
);
