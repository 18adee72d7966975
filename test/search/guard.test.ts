// InferenceGuard on the real shipped models: budget kept, pruning, penalised resampling,
// fallback, refusal, determinism, traces and critic plumbing.
import type { CostModel } from "../../src/cost/costModel.js";
import { DEFAULT_COST_RULES } from "../../src/cost/load.js";
import { RulesCostModel } from "../../src/cost/rules.js";
import { Engine } from "../../src/engine/engine.js";
import { UserError } from "../../src/errors.js";
import { generateGuarded, requiredContextCells, type EndPolicy } from "../../src/search/guard.js";
import { generatePlain } from "../../src/search/plain.js";
import { generateBeam } from "../../src/search/baselines/beam.js";
import type { CriticScorer, GenerationResult } from "../../src/search/types.js";
import { STORIES_MODEL, TINY_RANDOM_MODEL, expectSearchWithinBudget } from "../helpers/models.js";
import { MEAN_LOGPROB_TOLERANCE, expectSameMeanLogProb, teacherForcedReward } from "../helpers/teacherForced.js";

/** A cost model from a function of the whole text, with step costs by difference (clipped). */
function costFrom(name: string, f: (text: string) => number): CostModel {
  return {
    name,
    cost: f,
    stepCosts: (items) => items.map(({ prefix, added }) => Math.max(0, f(prefix + added) - f(prefix))),
  };
}

const count = (pattern: RegExp) => (text: string) => (text.match(pattern) ?? []).length;

/** Runs fn while counting the rows engine.step decodes. */
async function countingRows<T>(engine: Engine, fn: () => Promise<T>): Promise<{ value: T; rows: number }> {
  const step = engine.step.bind(engine);
  let rows = 0;
  engine.step = (tokens, positions, seqs) => {
    rows += tokens.length;
    return step(tokens, positions, seqs);
  };
  try {
    return { value: await fn(), rows };
  } finally {
    delete (engine as { step?: unknown }).step;
  }
}

describe("stories260K", () => {
  let engine: Engine;
  let lexicon: RulesCostModel;
  let prompt: number[];
  beforeAll(async () => {
    engine = await Engine.load({ modelPath: STORIES_MODEL, contextSize: 4096 });
    lexicon = RulesCostModel.fromFile(DEFAULT_COST_RULES);
    prompt = engine.completionPrompt("Once upon a time");
  });
  afterAll(async () => engine?.dispose());

  test("answers stay within budget under the conflict lexicon", async () => {
    for (let seed = 0; seed < 5; seed++) {
      const r = await generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options: { seed, maxTokens: 80, budget: 0.5, samples: 8 } });
      expectSearchWithinBudget(r);
      expect(lexicon.cost(r.text)).toBe(0);
      expect(r.cost).toBe(0);
      expect(r.tokens).toBeGreaterThan(20);
    }
  });

  test("the same seed gives the same answer; another seed another", async () => {
    const options = { seed: 11, maxTokens: 60, samples: 8 };
    const a = await generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options });
    const b = await generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options });
    const c = await generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options: { ...options, seed: 12 } });
    expect(b.text).toBe(a.text);
    expect(c.text).not.toBe(a.text);
  });

  test("penalised resampling steers around a token the model almost always writes", async () => {
    // After "Once upon a time" the model writes "," nearly always; forbid commas entirely.
    const commas = costFrom("commas", count(/,/g));
    const r = await generateGuarded({
      engine, promptTokens: prompt, cost: commas,
      options: { seed: 3, maxTokens: 60, budget: 0.5, samples: 8, width: 4, maxResamples: 4, trace: true },
    });
    expect(r.text).not.toContain(",");
    expectSearchWithinBudget(r);
    expect(r.tokens).toBeGreaterThan(10);
    const dropped = r.trace!.flatMap((b) => b.candidates).filter((c) => c.status === "dropped: over budget");
    expect(dropped.length).toBeGreaterThan(0); // it really had to prune
    expect(dropped.every((c) => c.cost > 0.5 && c.z < 0)).toBe(true);
  });

  test("when nothing can be safe it resamples M times, then keeps the longest safe prefix", async () => {
    const everything = costFrom("everything", (t) => (t.length > 0 ? 1 : 0));
    const r = await generateGuarded({ engine, promptTokens: prompt, cost: everything, options: { seed: 1, budget: 0.5, maxResamples: 3, samples: 4 } });
    expect(r.fallback).toBe(true);
    expect(r.stopReason).toBe("fallback");
    expect(r.resamples).toBe(3);
    expect(r.text).toBe("");
    expectSearchWithinBudget(r, true);
  });

  test("with onUnsafe=refuse it answers with the refusal text", async () => {
    const refusal = "Let's talk about something else.";
    const allButRefusal = costFrom("all-but-refusal", (t) => (t.length > 0 && t !== refusal ? 1 : 0));
    const r = await generateGuarded({
      engine, promptTokens: prompt, cost: allButRefusal,
      options: { seed: 1, budget: 0.5, maxResamples: 1, samples: 4, onUnsafe: "refuse", refusalText: refusal },
    });
    expect(r.text).toBe(refusal);
    expect(r.fallback).toBe(true);
    expectSearchWithinBudget(r);
  });

  test("a refusal text over the budget is not sent, and the result says so", async () => {
    const refusal = "I can't continue this safely.";
    const everything = costFrom("everything", (t) => (t.length > 0 ? 1 : 0));
    const r = await generateGuarded({
      engine, promptTokens: prompt, cost: everything,
      options: { seed: 1, budget: 0.5, maxResamples: 1, samples: 4, onUnsafe: "refuse", refusalText: refusal },
    });
    expect(r.text).toBe("");
    expect(r.fallback).toBe(true);
    expectSearchWithinBudget(r, true);
    expect(r.warning).toMatch(/the refusal text costs 1 under everything, over the budget 0\.5, so the answer is empty/);
    // An ordinary answer carries no warning.
    const fine = await generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options: { seed: 1, maxTokens: 16, samples: 4 } });
    expect(fine).not.toHaveProperty("warning");
  });

  test("the trace lists every candidate with cost, z and verdict", async () => {
    const r = await generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options: { seed: 5, maxTokens: 32, samples: 8, width: 8, trace: true, branch: "always" } });
    expect(r.trace!.length).toBeGreaterThanOrEqual(4);
    for (const block of r.trace!) {
      // N = 8 draws; identical draws come out as one candidate with their count.
      expect(block.candidates.reduce((sum, c) => sum + c.count, 0)).toBe(8);
      expect(new Set(block.candidates.map((c) => `${c.beam}:${c.added}`)).size).toBe(block.candidates.length);
      const kept = block.candidates.filter((c) => c.status === "kept" || c.status === "finished");
      expect(kept.length).toBeLessThanOrEqual(4);
      for (const c of block.candidates) expect(c.z).toBeCloseTo(1 - c.cost / 1, 10);
    }
  });

  test("the critic sees [hidden state, z] of every safe candidate and changes the ranking", async () => {
    const calls: { rows: number; z: number[]; width: number }[] = [];
    const nEmbd = engine.info.nEmbd;
    // A critic that prefers candidates whose hidden state has a large first coordinate.
    const critic: CriticScorer = {
      evaluate(hidden, z, rows) {
        calls.push({ rows, z: Array.from(z), width: hidden.length / rows });
        const safety = new Float32Array(rows).fill(1);
        const value = Float32Array.from({ length: rows }, (_, i) => 100 * hidden[i * nEmbd]);
        return { safety, value };
      },
    };
    const options = { seed: 9, maxTokens: 40, samples: 8 };
    const withCritic = await generateGuarded({ engine, promptTokens: prompt, cost: lexicon, critic, options });
    const without = await generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options });
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.width === nEmbd && c.z.every((z) => z >= 0 && z <= 1))).toBe(true);
    expect(withCritic.text).not.toBe(without.text);
    expectSearchWithinBudget(withCritic);
  });

  test("answers are consistent with the model: teacher-forced log-probs match the reported reward", async () => {
    for (const [seed, width] of [[2, 16], [4, 8], [7, 3]]) {
      const r = await generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options: { seed, width, maxTokens: 50, samples: 8 } });
      expect(r.tokens).toBeLessThanOrEqual(50);
      expect(r.tokenIds).toHaveLength(r.tokens);
      expect(engine.detokenize(r.tokenIds)).toBe(r.text);
      expectSameMeanLogProb(r.reward, teacherForcedReward(engine, prompt, r.tokenIds));
      // The bound still catches one wrong row: the middle token scored with its predecessor's logits.
      expect(Math.abs(teacherForcedReward(engine, prompt, r.tokenIds, r.tokens >> 1) - r.reward)).toBeGreaterThan(MEAN_LOGPROB_TOLERANCE);
    }
  });

  test("streaming sends only committed text, and all of it", async () => {
    const deltas: string[] = [];
    const r = await generateGuarded({
      engine, promptTokens: prompt, cost: lexicon, options: { seed: 21, maxTokens: 64, samples: 8 },
      onText: (d) => deltas.push(d),
    });
    expect(deltas.length).toBeGreaterThan(1); // it streamed before the end
    expect(deltas.join("")).toBe(r.text);
    const plainDeltas: string[] = [];
    const p = await generatePlain({ engine, promptTokens: prompt, method: "sample", options: { seed: 2, maxTokens: 30 }, onText: (d) => plainDeltas.push(d) });
    expect(plainDeltas.join("")).toBe(p.text);
  });

  test("the context, not the cap, ending an answer says so: stopReason context", async () => {
    // A prompt 40 tokens short of the trained context: 40 tokens, not the 200 asked for.
    const filler = engine.completionPrompt(" the dog ran".repeat(4000)).slice(0, engine.info.trainContextSize - 40);
    const near = await generateGuarded({ engine, promptTokens: filler, cost: lexicon, options: { seed: 1, maxTokens: 200, samples: 4, beams: 1, ignoreEos: true } });
    expect([near.tokens, near.stopReason]).toEqual([40, "context"]);
    const plain = await generatePlain({ engine, promptTokens: prompt, method: "sample", options: { seed: 1, maxTokens: 100_000, ignoreEos: true } });
    expect([plain.tokens, plain.stopReason]).toEqual([engine.info.trainContextSize - prompt.length, "context"]);
    // The cap reached first is still max-tokens.
    const capped = await generateGuarded({ engine, promptTokens: filler, cost: lexicon, options: { seed: 1, maxTokens: 16, samples: 4, beams: 1, ignoreEos: true } });
    expect([capped.tokens, capped.stopReason]).toEqual([16, "max-tokens"]);
  });

  test("stop sequences end the answer before them, also across blocks; the stream never sends a part of one", async () => {
    for (const [stop, width] of [["." , 8], ["there was", 1], [" was", 1]] as const) {
      const deltas: string[] = [];
      const r = await generateGuarded({
        engine, promptTokens: prompt, cost: lexicon, options: { seed: 2, maxTokens: 60, samples: 4, width, stop: [stop] },
        onText: (d) => deltas.push(d),
      });
      expect(r.stopReason).toBe("stop-sequence");
      expect(r.text).not.toContain(stop);
      expect(deltas.join("")).toBe(r.text);
      const plain = await generatePlain({ engine, promptTokens: prompt, method: "sample", options: { seed: 2, maxTokens: 60, stop: [stop] }, onText: (d) => deltas.push(d) });
      expect([plain.stopReason, plain.text.includes(stop)]).toEqual(["stop-sequence", false]);
    }
    // ", there was": a stop that began in text written by an earlier block cuts into it.
    const cut = await generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options: { seed: 2, maxTokens: 20, samples: 4, width: 1, stop: ["there was"] } });
    expect(cut.text).toBe(", ");
  });

  test('branch "always" is the full search of every block: block beam search where nothing is charged, and every block sampled in full', async () => {
    // Checks that hold on any CPU (token draws differ between CPUs, so no pinned digests): the same
    // answer as the independent block beam search when the cost model charges nothing, and the
    // shape of every block in the trace when it charges. (Beam search has no early stop: compared
    // without it; test/testbed/tinyAssistant.test.ts pins the early stop.)
    const free = costFrom("free", () => 0);
    for (const options of [{ seed: 1, maxTokens: 64 }, { seed: 5, maxTokens: 100, ignoreEos: true, beams: 2, samples: 6, width: 5 }]) {
      const g = await generateGuarded({ engine, promptTokens: prompt, cost: free, options: { ...options, branch: "always" }, endPolicy: { rankedFirst: false, patienceBlocks: Infinity } });
      const beams = (options as { beams?: number }).beams ?? 4;
      const samples = (options as { samples?: number }).samples ?? 8;
      const width = (options as { width?: number }).width ?? 8;
      const b = await generateBeam({ engine, promptTokens: prompt, cost: free, budget: 1, beams, samples, width, safety: false, seed: options.seed, maxTokens: options.maxTokens });
      expect([g.text, g.tokenIds]).toEqual([b.text, b.tokenIds]);
    }
    const commas = costFrom("commas", count(/,/g));
    const cases: [CostModel, Record<string, number>][] = [
      [lexicon, { seed: 2, maxTokens: 64, budget: 0.5 }],
      [commas, { seed: 3, maxTokens: 60, budget: 0.5, width: 4, maxResamples: 4 }],
    ];
    for (const [cost, options] of cases) {
      const r = await generateGuarded({ engine, promptTokens: prompt, cost, options: { ...options, trace: true, branch: "always" } });
      const again = await generateGuarded({ engine, promptTokens: prompt, cost, options: { ...options, trace: true, branch: "always" } });
      expect(again).toMatchObject({ text: r.text, tokenIds: r.tokenIds, resamples: r.resamples });
      expect(r.trace!.some((t) => "cruise" in t || "branched" in t)).toBe(false);
      for (const t of r.trace!) {
        // Every attempt of every block draws all N samples (the last block may end early on EOG).
        expect(t.candidates.reduce((n, c) => n + c.count, 0)).toBe(8);
        for (const c of t.candidates) expect(c.status === "dropped: over budget").toBe(c.cost > options.budget!);
        expect(t.candidates.filter((c) => c.status === "kept" || c.status === "finished").length).toBeLessThanOrEqual(4);
      }
    }
  });

  test('branch "auto" cruises on safe text: about one decoded row per answer token, and the trace says which blocks cruised', async () => {
    const options = { seed: 3, maxTokens: 200, ignoreEos: true, trace: true };
    const auto = await countingRows(engine, () => generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options }));
    const always = await countingRows(engine, () => generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options: { ...options, branch: "always" } }));
    for (const { value: r } of [auto, always]) expect([r.tokens, r.withinBudget]).toEqual([200, true]);
    expect(always.rows / 200).toBeGreaterThan(6);
    expect(auto.rows / 200).toBeLessThan(2.5);
    const trace = auto.value.trace!;
    expect(trace[0]).toMatchObject({ block: 0, branched: "first blocks" });
    const cruising = trace.filter((b) => b.cruise);
    expect(cruising.length).toBeGreaterThan(trace.length / 2);
    for (const b of cruising) {
      expect(b.branched).toBeUndefined();
      expect(b.candidates).toHaveLength(1);
      expect(b.candidates[0].count).toBe(1);
    }
    // Every full block says why it branched.
    for (const b of trace.filter((b) => !b.cruise)) expect(b.branched).toBeDefined();
    // Cruising is plain sampling where nothing is at risk: its reward is no worse than plain sampling's.
    const plain = await generatePlain({ engine, promptTokens: prompt, method: "sample", options: { seed: 3, maxTokens: 200, ignoreEos: true } });
    expect(auto.value.reward).toBeGreaterThan(plain.reward - 0.3);
  });

  test('a cruising block that goes over budget is searched again in full from the same beam', async () => {
    // Commas are forbidden and the model writes them often: cruising continuations hit them.
    const commas = costFrom("commas", count(/,/g));
    let overruns = 0;
    for (let seed = 1; seed <= 3; seed++) {
      const r = await generateGuarded({ engine, promptTokens: prompt, cost: commas, options: { seed, maxTokens: 80, budget: 0.5, trace: true } });
      expect(r.text).not.toContain(",");
      expectSearchWithinBudget(r);
      const trace = r.trace!;
      trace.forEach((b, i) => {
        if (!b.cruise || b.candidates[0].status !== "dropped: over budget") return;
        overruns++;
        // The same block again, in full, from the one beam that cruised.
        expect(trace[i + 1]).toMatchObject({ block: b.block, attempt: 0, branched: "cruise over budget" });
        expect(trace[i + 1].candidates.every((c) => c.beam === 0)).toBe(true);
        expect(trace[i + 1].candidates.reduce((s, c) => s + c.count, 0)).toBe(8);
      });
    }
    expect(overruns).toBeGreaterThan(0);
  });

  test("a cost model with a settled step cost stops a candidate at the token that dooms it, not at its block's end", async () => {
    const commas = costFrom("commas", count(/,/g));
    // Every comma is settled once written: the settled cost is the step cost.
    const settledCommas: CostModel = { ...commas, settledStepCost: (_prefix, added) => (added.match(/,/g) ?? []).length };
    let stopped = 0;
    for (let seed = 1; seed <= 3; seed++) {
      const options = { seed, maxTokens: 80, budget: 0.5, trace: true };
      const r = await generateGuarded({ engine, promptTokens: prompt, cost: settledCommas, options });
      expect(r.text).not.toContain(",");
      expectSearchWithinBudget(r);
      for (const c of r.trace!.flatMap((b) => b.candidates)) {
        if (!c.stoppedMidBlock) continue;
        stopped++;
        expect(c.status).toBe("dropped: over budget");
        expect(c.added).toMatch(/,\s*$/); // nothing decoded after the comma's token
      }
      const blockEnd = await generateGuarded({ engine, promptTokens: prompt, cost: commas, options });
      expect(blockEnd.trace!.flatMap((b) => b.candidates).some((c) => c.stoppedMidBlock)).toBe(false);
      // Over-budget candidates decoded to the block's end mostly go on past their comma.
      expect(blockEnd.trace!.flatMap((b) => b.candidates).some((c) => c.status === "dropped: over budget" && !/,\s*$/.test(c.added))).toBe(true);
    }
    expect(stopped).toBeGreaterThan(0);
  });

  test("with a stop sequence, text from where it may begin is not charged mid-block: the period that ends the answer dooms nothing", async () => {
    const periods = costFrom("periods", count(/\./g));
    // Every period is settled once written, and each costs the whole budget; but "." is the stop sequence.
    const settledPeriods: CostModel = { ...periods, settledStepCost: (_prefix, added) => (added.match(/\./g) ?? []).length };
    for (let seed = 1; seed <= 3; seed++) {
      const r = await generateGuarded({ engine, promptTokens: prompt, cost: settledPeriods, options: { seed, maxTokens: 80, budget: 0.5, stop: ["."], trace: true } });
      expect(r.stopReason).toBe("stop-sequence");
      expect(r.text).not.toContain(".");
      expectSearchWithinBudget(r);
      // The period is where the answer stops, not a cost: no candidate was stopped over budget for it.
      expect(r.trace!.flatMap((b) => b.candidates).filter((c) => c.stoppedMidBlock || c.status === "dropped: over budget")).toEqual([]);
    }
  });

  test("the early stop's patience: with rankedFirst off, the search ends patienceBlocks blocks after the first answer ended, and not before the beams are lengthRatio times as long as its answer", async () => {
    const width = 4;
    const run = (end: Partial<EndPolicy>) =>
      generateGuarded({ engine, promptTokens: prompt, cost: lexicon, endPolicy: { rankedFirst: false, ...end }, options: { seed: 1, maxTokens: 200, beams: 4, samples: 8, width, branch: "always", stop: ["!"], trace: true } });
    const firstEnded = (r: GenerationResult) => r.trace!.find((b) => b.candidates.some((c) => c.status === "finished"))!.block;
    const lastBlock = (r: GenerationResult) => Math.max(...r.trace!.map((b) => b.block));
    const patient = await run({ patienceBlocks: 1000, lengthRatio: 0 });
    const ended = firstEnded(patient);
    expect(lastBlock(patient)).toBeGreaterThan(ended + 3); // live beams went on well past the first ending (at "!")
    for (const patience of [0, 1, 3]) {
      const r = await run({ patienceBlocks: patience, lengthRatio: 0 });
      expect(firstEnded(r)).toBe(ended); // the same search up to there
      expect(lastBlock(r)).toBe(ended + patience);
      expect(r.stopReason).not.toBe("max-tokens");
    }
    // The length ratio alone: live beams (every one (block + 1) x width tokens deep at branch
    // "always") go on until they are lengthRatio times as long as the answer returned, then stop.
    for (const lengthRatio of [1.25, 2]) {
      const r = await run({ patienceBlocks: 0, lengthRatio });
      const last = lastBlock(r);
      const bound = lengthRatio * r.tokens;
      expect(firstEnded(r)).toBe(ended);
      expect(r.stopReason).toBe("stop-sequence");
      expect((last + 1) * width).toBeGreaterThanOrEqual(bound); // not before
      // Nor later: when the answer returned had ended before the last block, the beams were still
      // shorter than that one block earlier.
      const answerEnded = r.trace!.find((b) => b.candidates.some((c) => c.status === "finished" && c.reward === r.reward))!.block;
      if (answerEnded < last) expect(last * width).toBeLessThan(bound);
      // Where the bound lies between the first ending and the cap, the rule (neither a fixed 0 blocks
      // of patience nor the beams running out) is what ended the search.
      if (bound > (ended + 1) * width) expect(last).toBeGreaterThan(ended);
      if (bound + width <= 200) expect(last).toBeLessThan(lastBlock(patient));
    }
  });

  test("bad requests are clear UserErrors", async () => {
    await expect(generateGuarded({ engine, promptTokens: [], cost: lexicon })).rejects.toThrow(UserError);
    const tooLong = new Array(engine.info.trainContextSize + 5).fill(prompt[1]);
    await expect(generateGuarded({ engine, promptTokens: tooLong, cost: lexicon })).rejects.toThrow(/prompt has \d+ tokens/);
    await expect(generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options: { beams: 40, samples: 40 } })).rejects.toThrow(/sequences/);
    await expect(generateGuarded({ engine, promptTokens: prompt, cost: lexicon, options: { budget: 0 } })).rejects.toThrow(/budget/);
  });
});

test("with K beams the KV cells cap the answer: it ends early with stopReason context instead of a refusal", async () => {
  const engine = await Engine.load({ modelPath: STORIES_MODEL, contextSize: 300 });
  try {
    const promptTokens = engine.completionPrompt("Once upon a time");
    const options = { seed: 1, maxTokens: 200, beams: 4, samples: 8, width: 8, ignoreEos: true };
    const r = await generateGuarded({ engine, promptTokens, cost: RulesCostModel.fromFile(DEFAULT_COST_RULES), options });
    // 300 cells hold the prompt, one block of 8x8 candidates and 4 beams of at most 56 tokens.
    expect(r.stopReason).toBe("context");
    expect(r.tokens).toBe(Math.floor((300 - requiredContextCells(promptTokens.length, { ...options, maxTokens: 0 })) / 4));
  } finally {
    await engine.dispose();
  }
});

describe("llama-2-tiny-random (32k vocabulary)", () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load({ modelPath: TINY_RANDOM_MODEL, contextSize: 2048 });
  });
  afterAll(async () => engine?.dispose());

  test("guarded generation keeps a budget on a letter count", async () => {
    const es = costFrom("letter e", count(/e/gi));
    for (let seed = 0; seed < 3; seed++) {
      const r = await generateGuarded({
        engine, promptTokens: engine.completionPrompt("Hello world"), cost: es,
        options: { seed, maxTokens: 48, budget: 3, samples: 8, maxResamples: 4 },
      });
      expectSearchWithinBudget(r);
      expect(es.cost(r.text) as number).toBeLessThanOrEqual(3);
      expect(r.tokens).toBeGreaterThan(0);
    }
  });
});

test("a running generation yields to the event loop, so a timer can abort it", async () => {
  const engine = await Engine.load({ modelPath: STORIES_MODEL, contextSize: 8192 });
  try {
    const lexicon = RulesCostModel.fromFile(DEFAULT_COST_RULES);
    const promptTokens = engine.completionPrompt("Once upon a time");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const r = await generateGuarded({
      engine, promptTokens, cost: lexicon, signal: controller.signal,
      options: { seed: 1, maxTokens: 1500, ignoreEos: true, samples: 16 },
    });
    expect(r.stopReason).toBe("aborted");
    expect(r.tokens).toBeLessThan(1500);
    expectSearchWithinBudget(r);
    const timer = new AbortController();
    setTimeout(() => timer.abort(), 10);
    const p = await generatePlain({ engine, promptTokens, method: "sample", signal: timer.signal, options: { seed: 1, maxTokens: 1900, ignoreEos: true } });
    expect(p.stopReason).toBe("aborted");
  } finally {
    await engine.dispose();
  }
});
