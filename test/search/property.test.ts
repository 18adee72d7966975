// Property: across hundreds of seeded guarded generations on stories260K with the conflict
// lexicon, no answer exceeds its budget, while the answers stay about as long as plain sampling
// (the guard steers around conflict words instead of cutting the story short).
import { DEFAULT_COST_RULES } from "../../src/cost/load.js";
import { RulesCostModel } from "../../src/cost/rules.js";
import { Engine } from "../../src/engine/engine.js";
import { generateGuarded } from "../../src/search/guard.js";
import { generatePlain } from "../../src/search/plain.js";
import { STORIES_MODEL } from "../helpers/models.js";

const SEEDS_PER_BUDGET = 100;
const BUDGETS = [0.5, 1]; // 0.5: no conflict word at all; 1: at most one
const MAX_TOKENS = 150;
const OPENINGS = ["Once upon a time", "One day, a little boy named Tom", "The dog and the cat", "Lily was playing in the park when"];

test(`${SEEDS_PER_BUDGET * BUDGETS.length} guarded generations: 0 over budget, lengths close to plain sampling`, async () => {
  const engine = await Engine.load({ modelPath: STORIES_MODEL });
  const lexicon = RulesCostModel.fromFile(DEFAULT_COST_RULES);
  try {
    const plain = { tokens: 0, withConflict: 0, runs: 0 };
    const guarded = { tokens: 0, overBudget: 0, fallbacks: 0, runs: 0, resamples: 0, emptied: 0, empty: 0 };
    for (const budget of BUDGETS) {
      for (let seed = 0; seed < SEEDS_PER_BUDGET; seed++) {
        const promptTokens = engine.completionPrompt(OPENINGS[seed % OPENINGS.length]);
        const g = await generateGuarded({
          engine, promptTokens, cost: lexicon,
          options: { seed, budget, maxTokens: MAX_TOKENS, beams: 4, samples: 8, width: 8 },
        });
        // Judge the text itself, independently of what the search reports.
        if (lexicon.cost(g.text) > budget || !g.withinBudget) guarded.overBudget++;
        // The final check re-costs the text and empties it when over budget, so withinBudget holds by
        // construction: the search itself must never need that net, and must answer.
        if (g.finalCheckEmptied) guarded.emptied++;
        if (g.text.trim() === "") guarded.empty++;
        guarded.tokens += g.tokens;
        guarded.fallbacks += g.fallback ? 1 : 0;
        guarded.resamples += g.resamples;
        guarded.runs++;
        if (budget === BUDGETS[0]) {
          const p = await generatePlain({ engine, promptTokens, method: "sample", options: { seed, maxTokens: MAX_TOKENS } });
          plain.tokens += p.tokens;
          plain.withConflict += lexicon.cost(p.text) > 0 ? 1 : 0;
          plain.runs++;
        }
      }
    }
    const plainMean = plain.tokens / plain.runs;
    const guardedMean = guarded.tokens / guarded.runs;
    // The measurements README quotes; printed only on request, so a test run stays quiet.
    if (process.env.INFERENCE_GUARD_TEST_REPORT) process.stderr.write(
      `plain sampling: ${plain.runs} stories, ${((100 * plain.withConflict) / plain.runs).toFixed(0)}% contain a conflict word, ` +
        `mean ${plainMean.toFixed(1)} tokens\n` +
        `guarded: ${guarded.runs} stories, ${guarded.overBudget} over budget, mean ${guardedMean.toFixed(1)} tokens ` +
        `(${((100 * guardedMean) / plainMean).toFixed(0)}% of plain), ${guarded.fallbacks} fallbacks, ${guarded.resamples} resampling rounds\n`,
    );
    expect(plain.withConflict / plain.runs).toBeGreaterThan(0.15); // the lexicon really bites on this model
    expect(guarded.overBudget).toBe(0);
    expect(guarded.emptied).toBe(0);
    expect(guarded.empty).toBe(0);
    expect(guardedMean).toBeGreaterThan(0.8 * plainMean); // steering, not truncation
    expect(guarded.fallbacks / guarded.runs).toBeLessThan(0.1);
  } finally {
    await engine.dispose();
  }
}, 600_000);
