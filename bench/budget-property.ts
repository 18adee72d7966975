// The guarantee over many seeds (issue 20): every guarded answer's cost, re-counted from its text by
// the cost model, within budget; the final check (which empties an over-budget answer) never needed;
// no empty answers. Each shipped cost model on its testbed: the conflict lexicon on stories260K
// (completion prompts, budgets 0.5 and 1), the chat default cost on the tiny assistant (chat prompts,
// the chat defaults: harm:chat-harm.json, budget 0.5 and the assistant reward; the row in the docs
// predates it: the harm classifier was the chat default then). A long run, not a test (`npm test` runs
// 200 seeds of the first in test/search/property.test.ts); its last result is in docs/efficacy-tiny-assistant.md.
//
//   npx tsx bench/budget-property.ts [--seeds N]     (default 1000 per setting)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createGuard } from "../src/createGuard.js";
import { bindRequest } from "../src/cost/costModel.js";
import { loadCostModel } from "../src/cost/load.js";
import { DEFAULT_COST_RULES } from "../src/cost/load.js";
import { ASSISTANT_COST_DEFAULT } from "../src/cost/defaults.js";
import { PACKAGE_ROOT, SHARED_DIR } from "../src/paths.js";
import { type FlagTable } from "../src/cli/flagTable.js";
import { benchFlags, benchUsage, countFlag } from "./flags.js";
import { Progress } from "./measure.js";

const FLAGS = { seeds: countFlag("N", "seeds per setting", 1000) } as const satisfies FlagTable;
const { seeds: SEEDS } = benchFlags("budget-property", FLAGS, benchUsage("budget-property", "The budget guarantee over many seeds, each shipped cost model on its testbed.", FLAGS));
const OPENINGS = ["Once upon a time", "One day, a little boy named Tom", "The dog and the cat", "Lily was playing in the park when"];
const requests = readFileSync(join(PACKAGE_ROOT, "models", "testbed", "assistant-requests.train.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l).prompt as string);

interface Setting {
  name: string;
  model: string;
  chat: boolean;
  budget: number;
  maxTokens: number;
  cost: string;
}

const settings: Setting[] = [
  { name: "lexicon, stories260K, budget 0.5", model: join(SHARED_DIR, "models", "stories260K.gguf"), chat: false, budget: 0.5, maxTokens: 150, cost: `rules:${DEFAULT_COST_RULES}` },
  { name: "lexicon, stories260K, budget 1", model: join(SHARED_DIR, "models", "stories260K.gguf"), chat: false, budget: 1, maxTokens: 150, cost: `rules:${DEFAULT_COST_RULES}` },
  { name: "chat default (harm:), tiny assistant (chat), budget 0.5", model: join(PACKAGE_ROOT, "models", "testbed", "tiny-assistant.gguf"), chat: true, budget: ASSISTANT_COST_DEFAULT.budget, maxTokens: 64, cost: ASSISTANT_COST_DEFAULT.spec },
];

const rows: string[] = [];
for (const s of settings) {
  const guard = await createGuard({ model: s.model, threads: 1 });
  const cost = await loadCostModel(s.cost);
  const progress = new Progress();
  progress.begin(s.name, SEEDS);
  const tally = { over: 0, emptied: 0, empty: 0, fallbacks: 0, tokens: 0, maxCost: 0 };
  const started = performance.now();
  try {
    for (let seed = 0; seed < SEEDS; seed++) {
      const prompt = s.chat ? [{ role: "user" as const, content: requests[seed % requests.length]! }] : OPENINGS[seed % OPENINGS.length]!;
      // The guard's own defaults for the prompt kind, with the cost model named so the check below re-counts with the same one.
      const r = await guard.generate(prompt, { seed, budget: s.budget, maxTokens: s.maxTokens, cost });
      // Re-counted under the request the guard bound it to (a harm: cost charges compliance with it).
      const recounted = await bindRequest(cost, typeof prompt === "string" ? { prompt } : { messages: prompt }).cost(r.text);
      if (recounted > s.budget) tally.over++;
      if (r.finalCheckEmptied) tally.emptied++;
      if (r.text.trim() === "") tally.empty++;
      if (r.fallback) tally.fallbacks++;
      tally.tokens += r.tokens;
      tally.maxCost = Math.max(tally.maxCost, recounted);
      progress.tick(`over ${tally.over}, emptied ${tally.emptied}`);
    }
  } finally {
    progress.end();
    await guard.dispose();
    await cost.dispose?.();
  }
  rows.push(
    `| ${s.name} | ${SEEDS} | ${tally.over} | ${tally.emptied} | ${tally.empty} | ${tally.fallbacks} | ${tally.maxCost.toFixed(3)} | ${(tally.tokens / SEEDS).toFixed(1)} | ${((performance.now() - started) / 1000).toFixed(0)} s |`,
  );
}
process.stdout.write(
  ["| cost model, testbed, budget | seeds | over budget (re-counted) | final check needed | empty answers | fallbacks | highest cost | tokens / answer | time |", "|---|---|---|---|---|---|---|---|---|", ...rows].join("\n") + "\n",
);
