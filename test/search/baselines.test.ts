// The evaluation's baselines on the real shipped models: each is deterministic for a seed, reports
// the reward its tokens really have, and chooses by its own rule.
import type { CostModel } from "../../src/cost/costModel.js";
import { DEFAULT_COST_RULES } from "../../src/cost/load.js";
import { RulesCostModel } from "../../src/cost/rules.js";
import { Engine } from "../../src/engine/engine.js";
import { UserError } from "../../src/errors.js";
import { TopK, generateArgs } from "../../src/search/baselines/args.js";
import { generateBeam } from "../../src/search/baselines/beam.js";
import { argBest, generateBestOfN } from "../../src/search/baselines/bestOfN.js";
import { blockTexts, chargedCostCurves, maxOf } from "../../src/search/baselines/blocks.js";
import { generateGreedy, generateSample, sampleAnswers } from "../../src/search/baselines/sampling.js";
import { growTree, type TreeRoot } from "../../src/search/tree.js";
import { generateGuarded } from "../../src/search/guard.js";
import { generatePlain } from "../../src/search/plain.js";
import { deriveSeed } from "../../src/search/seed.js";
import { SequencePool } from "../../src/engine/sequencePool.js";
import type { GenerationResult } from "../../src/search/types.js";
import { STORIES_MODEL, TINY_RANDOM_MODEL, expectSameRow } from "../helpers/models.js";
import { expectSameMeanLogProb, teacherForcedReward } from "../helpers/teacherForced.js";

function costFrom(name: string, f: (text: string) => number): CostModel {
  return { name, cost: f, stepCosts: (items) => items.map(({ prefix, added }) => Math.max(0, f(prefix + added) - f(prefix))) };
}
const commas = costFrom("commas", (t) => (t.match(/,/g) ?? []).length);
const nothing = costFrom("nothing", () => 0);

describe("stories260K", () => {
  let engine: Engine;
  let lexicon: RulesCostModel;
  let prompt: number[];
  beforeAll(async () => {
    engine = await Engine.load({ modelPath: STORIES_MODEL, contextSize: 4096, threads: 1 });
    lexicon = RulesCostModel.fromFile(DEFAULT_COST_RULES);
    prompt = engine.completionPrompt("Once upon a time");
  });
  afterAll(async () => engine?.dispose());

  test("greedy and sample are exactly generatePlain's answers for the same seed", async () => {
    for (const seed of [1, 2]) {
      const plain = await generatePlain({ engine, promptTokens: prompt, method: "sample", options: { seed, maxTokens: 40 } });
      const ours = await generateSample({ engine, promptTokens: prompt, seed, maxTokens: 40, cost: lexicon, budget: 1 });
      expect(ours.text).toBe(plain.text);
      expect(ours.tokenIds).toEqual(plain.tokenIds);
      expect(ours.reward).toBe(plain.reward);
      // Best-of-N's prefix tree draws the same answer for n = 1.
      const [tree] = await sampleAnswers({ engine, promptTokens: prompt, n: 1, params: { temperature: 1, topK: 0, topP: 1 }, seed, maxTokens: 40 });
      expect(tree!.tokens).toEqual(plain.tokenIds);
      expect(tree!.sumLogProb / tree!.tokens.length).toBeCloseTo(plain.reward, 6);
    }
    const g = await generateGreedy({ engine, promptTokens: prompt, seed: 5, maxTokens: 40 });
    const pg = await generatePlain({ engine, promptTokens: prompt, method: "greedy", options: { seed: 9, maxTokens: 40 } });
    expect(g.text).toBe(pg.text);
    const other = await generateSample({ engine, promptTokens: prompt, seed: 3, maxTokens: 40 });
    expect(other.text).not.toBe((await generateSample({ engine, promptTokens: prompt, seed: 4, maxTokens: 40 })).text);
  });

  test("Best-of-N draws n answers (identical ones once, with their count), deterministically", async () => {
    const params = { temperature: 1, topK: 0, topP: 1 };
    const a = await sampleAnswers({ engine, promptTokens: prompt, n: 12, params, seed: 7, maxTokens: 30 });
    const b = await sampleAnswers({ engine, promptTokens: prompt, n: 12, params, seed: 7, maxTokens: 30 });
    expect(a).toEqual(b);
    expect(a.reduce((s, x) => s + x.count, 0)).toBe(12);
    expect(new Set(a.map((x) => x.tokens.join(","))).size).toBe(a.length);
    expect(a.length).toBeGreaterThan(1);
    for (const x of a.slice(0, 3)) expectSameMeanLogProb(x.sumLogProb / x.tokens.length, teacherForcedReward(engine, prompt, x.tokens));
  });

  test("each Best-of-N variant picks by its own rule among the same samples", async () => {
    // Commas cost 1 each, budget 2: with this seed the most likely answer has 4.
    const base = { engine, promptTokens: prompt, cost: commas, budget: 2, n: 16, seed: 2, maxTokens: 60 };
    const bon = await generateBestOfN({ ...base, rule: { kind: "reward" } });
    const lagrangian = await generateBestOfN({ ...base, rule: { kind: "lagrangian", lambda: 5 } });
    const safe = await generateBestOfN({ ...base, rule: { kind: "safe", width: 8 } });
    const pool = bon.candidates!;
    // Same draws for all three.
    expect(lagrangian.candidates!.map((c) => c.reward)).toEqual(pool.map((c) => c.reward));
    const chosenBon = pool.find((c) => c.chosen)!;
    expect(chosenBon.cost).toBeGreaterThan(2); // the choice matters
    const chosen = (r: GenerationResult & { candidates?: typeof pool }) => r.candidates!.find((c) => c.chosen)!;
    expect(chosen(bon).reward).toBe(Math.max(...pool.map((c) => c.reward)));
    expect(bon.reward).toBeCloseTo(chosen(bon).reward, 10);
    expect(chosen(lagrangian).score).toBe(Math.max(...pool.map((c) => c.reward - 5 * c.cost)));
    expect(lagrangian.cost).toBeLessThan(bon.cost);
    const safeOnes = safe.candidates!.filter((c) => c.chargedCost! <= 2);
    expect(chosen(safe).reward).toBe(Math.max(...safeOnes.map((c) => c.reward)));
    expect(safe.withinBudget).toBe(true);
    for (const c of safe.candidates!) expect(c.chargedCost!).toBeGreaterThanOrEqual(c.cost);
    const zeroLambda = await generateBestOfN({ ...base, rule: { kind: "lagrangian", lambda: 0 } });
    expect(zeroLambda.text).toBe(bon.text);
  });

  test("beam search without safety is the guard's search under a cost model that charges nothing", async () => {
    for (const [k, n, w] of [[2, 6, 4], [4, 16, 8]]) {
      const options = { seed: 2, maxTokens: 48, beams: k, samples: n, width: w };
      const guard = await generateGuarded({ engine, promptTokens: prompt, cost: nothing, options: { ...options, branch: "always" } });
      const beam = await generateBeam({ engine, promptTokens: prompt, cost: lexicon, budget: 1, beams: k, samples: n, width: w, safety: false, seed: 2, maxTokens: 48 });
      expect(beam.text).toBe(guard.text);
      expect(beam.tokenIds).toEqual(guard.tokenIds);
      expectSameMeanLogProb(beam.reward, teacherForcedReward(engine, prompt, beam.tokenIds));
    }
  });

  test("beam search with the safety state ranks candidates over budget last", async () => {
    // Commas cost 1 each, budget 2: the safe search must stop writing commas after two.
    const args = { engine, promptTokens: prompt, cost: commas, budget: 2, beams: 2, samples: 8, width: 4, seed: 3, maxTokens: 60 };
    const safe = await generateBeam({ ...args, safety: true });
    const plain = await generateBeam({ ...args, safety: false });
    expect(plain.cost).toBeGreaterThan(2); // the task is not trivial
    expect(safe.withinBudget).toBe(true);
    expect(safe.cost).toBeLessThanOrEqual(2);
    expect(safe.fallback).toBe(false);
    expect(safe.candidates!.find((c) => c.chosen)!.chargedCost!).toBeLessThanOrEqual(2);
  });

  test("growTree: per-root bias and starting log-prob; captureHidden copies each leaf's last hidden state", async () => {
    const grow = async (roots: Array<Omit<TreeRoot, "seq" | "row" | "pos">>, captureHidden?: boolean) => {
      engine.clear();
      const pool = new SequencePool(engine, engine.info.maxSequences);
      const seq = pool.acquire();
      const row = engine.prefill(seq, prompt);
      const params = { temperature: 1, topK: 0, topP: 1 };
      const all = roots.map((r) => ({ seq, row, pos: prompt.length, ...r }));
      return growTree(engine, pool, all, { width: 6, maxTokens: 7, params, seedAt: (w) => deriveSeed(5, w), captureHidden });
    };
    const plain = await grow([{ written: 0, draws: 12 }]);
    expect(plain.every((l) => l.hidden === undefined)).toBe(true);
    const firsts = new Map<number, number>();
    for (const l of plain) firsts.set(l.tokens[0], (firsts.get(l.tokens[0]) ?? 0) + l.count);
    const top = [...firsts].sort((a, b) => b[1] - a[1])[0][0];
    const eog = new Map(engine.endOfGenerationTokens().map((t) => [t, 30]));
    // Root 0: its most frequent first token forbidden, ends open at width; root 1: stops at max tokens;
    // root 2: ends at once at end-of-generation (captured before the next decode overwrites its row).
    const leaves = await grow(
      [
        { written: 0, draws: 12, bias: new Map([[top, -Infinity]]), sumLogProb: -5 },
        { written: 4, draws: 12 },
        { written: 0, draws: 2, bias: eog },
      ],
      true,
    );
    const of = (root: number) => leaves.filter((l) => l.root === root);
    for (const [root, draws] of [[0, 12], [1, 12], [2, 2]]) expect(of(root).reduce((s, l) => s + l.count, 0)).toBe(draws);
    expect(of(0).every((l) => l.tokens[0] !== top && l.tokens.length === 6 && l.stop === null)).toBe(true);
    expect(of(1).some((l) => l.tokens[0] === top)).toBe(true);
    expect(of(1).every((l) => l.tokens.length === 3 && l.stop === "max-tokens")).toBe(true);
    expect(of(2).map((l) => [l.tokens.length, l.stop])).toEqual([[0, "eog"]]);
    for (const l of leaves) {
      expectSameRow(l.hidden!, await engine.referenceHidden([...prompt, ...l.tokens]));
    }
    // Log-probabilities are the unbiased model's, summed on from the root's.
    for (const l of of(0).slice(0, 3)) expectSameMeanLogProb((l.sumLogProb + 5) / 6, teacherForcedReward(engine, prompt, l.tokens));
  });

  test("growTree: a doomed leaf stops at the token that doomed it, undecoded, and only it", async () => {
    const grow = async (doomed?: (root: number, tokens: readonly number[]) => boolean) => {
      engine.clear();
      const pool = new SequencePool(engine, engine.info.maxSequences);
      const seq = pool.acquire();
      const row = engine.prefill(seq, prompt);
      let rows = 0;
      // The engine, counting the rows each decode of the tree carries.
      const counting = new Proxy(engine, {
        get(target, key) {
          if (key === "step") return (tokens: Int32Array, positions: Int32Array, seqs: Int32Array) => ((rows += tokens.length), target.step(tokens, positions, seqs));
          const value = Reflect.get(target, key);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const leaves = await growTree(counting, pool, [{ seq, row, pos: prompt.length, written: 0, draws: 16 }], {
        width: 8, maxTokens: 100, params: { temperature: 1, topK: 0, topP: 1 }, seedAt: (w) => deriveSeed(9, w), captureHidden: true, doomed,
      });
      return { leaves, rows };
    };
    const free = await grow();
    // Doom every leaf whose third token is the most common third token: they stop there.
    const thirds = new Map<number, number>();
    for (const l of free.leaves) if (l.tokens.length >= 3) thirds.set(l.tokens[2], (thirds.get(l.tokens[2]) ?? 0) + l.count);
    const worst = [...thirds].sort((a, b) => b[1] - a[1])[0][0];
    const cut = await grow((_, tokens) => tokens.length === 3 && tokens[2] === worst);
    const doomed = cut.leaves.filter((l) => l.stop === "over-budget");
    expect(doomed.length).toBeGreaterThan(0);
    for (const l of doomed) {
      expect(l.tokens).toHaveLength(3);
      expect(l.tokens[2]).toBe(worst);
      // Its hidden state is that of the token before (the doomed one never went through the model).
      expectSameRow(l.hidden!, await engine.referenceHidden([...prompt, ...l.tokens.slice(0, 2)]));
    }
    expect(cut.leaves.every((l) => l.stop === "over-budget" || !(l.tokens.length >= 3 && l.tokens[2] === worst))).toBe(true);
    expect(cut.leaves.reduce((s, l) => s + l.count, 0)).toBe(16);
    expect(cut.rows).toBeLessThan(free.rows);
  });

  test("ARGS: top-1 without reward weight is greedy; a heavy weight steers around costly tokens", async () => {
    const greedy = await generateGreedy({ engine, promptTokens: prompt, seed: 1, maxTokens: 50 });
    const top1 = await generateArgs({ engine, promptTokens: prompt, cost: commas, budget: 1, topCandidates: 1, omega: 0, seed: 1, maxTokens: 50 });
    expect(top1.text).toBe(greedy.text);
    expect(top1.reward).toBeCloseTo(greedy.reward, 5);
    expect(greedy.text).toContain(",");
    const steered = await generateArgs({ engine, promptTokens: prompt, cost: commas, budget: 1, topCandidates: 10, omega: 50, seed: 1, maxTokens: 50 });
    expect(steered.text).not.toContain(",");
    expect(steered.tokens).toBeGreaterThan(20);
    expectSameMeanLogProb(steered.reward, teacherForcedReward(engine, prompt, steered.tokenIds));
    // Greedy ARGS ignores the seed; sampled ARGS follows it.
    const again = await generateArgs({ engine, promptTokens: prompt, cost: commas, budget: 1, topCandidates: 10, omega: 50, seed: 2, maxTokens: 50 });
    expect(again.text).toBe(steered.text);
    const sampled = (seed: number) => generateArgs({ engine, promptTokens: prompt, cost: lexicon, budget: 1, topCandidates: 10, omega: 1, temperature: 1, seed, maxTokens: 40 });
    expect((await sampled(1)).text).toBe((await sampled(1)).text);
    expect((await sampled(1)).text).not.toBe((await sampled(2)).text);
  });

  test("block texts join into the answer and the charged cost never falls", async () => {
    const r = await generateSample({ engine, promptTokens: prompt, seed: 11, maxTokens: 80 });
    const blocks = blockTexts(engine, r.tokenIds, 8);
    expect(blocks).toHaveLength(10);
    expect(blocks.join("")).toBe(r.text);
    const [curve] = await chargedCostCurves(commas, [blocks]);
    for (let i = 1; i < curve.length; i++) expect(curve[i]).toBeGreaterThanOrEqual(curve[i - 1]);
    expect(maxOf(curve)).toBe(commas.cost(r.text));
  });

  test("mistakes are UserErrors", async () => {
    const base = { engine, promptTokens: prompt, cost: lexicon, budget: 1, seed: 1, maxTokens: 10 };
    await expect(generateBeam({ ...base, beams: 4, samples: 2, width: 4, safety: false })).rejects.toThrow(/samples/);
    await expect(generateBeam({ ...base, beams: 40, samples: 40, width: 4, safety: false })).rejects.toThrow(UserError);
    await expect(generateBestOfN({ ...base, n: 0, rule: { kind: "reward" } })).rejects.toThrow(UserError);
    await expect(generateArgs({ ...base, topCandidates: 0, omega: 1 })).rejects.toThrow(/k must/);
    await expect(generateGreedy({ ...base, promptTokens: [] })).rejects.toThrow(/empty/);
  });
});

describe("llama-2-tiny-random (32k vocabulary)", () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load({ modelPath: TINY_RANDOM_MODEL, contextSize: 2048 });
  });
  afterAll(async () => engine?.dispose());

  test("every baseline runs, is deterministic for a seed and respects the length cap", async () => {
    const promptTokens = engine.completionPrompt("Hello world");
    const es = costFrom("letter e", (t) => (t.match(/e/gi) ?? []).length);
    const base = { engine, promptTokens, cost: es, budget: 4, maxTokens: 24 };
    const runs: Array<(seed: number) => Promise<GenerationResult>> = [
      (seed) => generateGreedy({ ...base, seed }),
      (seed) => generateSample({ ...base, seed }),
      (seed) => generateBestOfN({ ...base, seed, n: 4, rule: { kind: "safe", width: 4 } }),
      (seed) => generateBeam({ ...base, seed, beams: 2, samples: 6, width: 4, safety: true }),
      (seed) => generateArgs({ ...base, seed, topCandidates: 5, omega: 2 }),
    ];
    for (const run of runs) {
      const a = await run(3);
      const b = await run(3);
      expect(b.text).toBe(a.text);
      expect(a.tokens).toBeGreaterThan(0);
      expect(a.tokens).toBeLessThanOrEqual(24);
      expect(a.tokenIds).toHaveLength(a.tokens);
      expect(a.cost).toBe(es.cost(a.text));
    }
  });
});

test("TopK keeps the k largest values, largest first", () => {
  const x = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
  const top = new TopK(7);
  top.select(x);
  const expected = Array.from(x.keys()).sort((a, b) => x[b] - x[a] || a - b).slice(0, 7);
  expect(Array.from(top.indices)).toEqual(expected);
  expect(argBest([0, 1, 2], (i) => [[1, 3, 3][i], [0, 1, 2][i]])).toBe(2);
});
