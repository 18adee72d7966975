// bench/kvCells: KV cells counted as llama.cpp's unified cache holds them (forks share cells).
import { KvCellCounter } from "../../bench/kvCells.js";
import { RulesCostModel } from "../../src/cost/rules.js";
import { Engine } from "../../src/engine/engine.js";
import { generateGuarded, requiredContextCells } from "../../src/search/guard.js";
import { generatePlain } from "../../src/search/plain.js";
import { STORIES_MODEL } from "../helpers/models.js";

/** The engine methods the counter shadows, doing nothing. */
function fakeEngine() {
  return {
    prefill: (_seq: number, _tokens: readonly number[], _startPos?: number) => 0,
    step: (_tokens: Int32Array, _positions: Int32Array, _seqs: Int32Array) => undefined,
    fork: (_src: number, _dst: number) => undefined,
    truncate: (_seq: number, _fromPos: number) => undefined,
    release: (_seq: number) => undefined,
    clear: () => undefined,
  };
}

test("a fork shares cells; a cell is free once no sequence holds it; restore() removes the hooks", () => {
  const engine = fakeEngine();
  const prototypeless = { ...engine };
  const kv = new KvCellCounter(engine as never);
  engine.prefill(0, [1, 2, 3, 4, 5]);
  expect(kv.live).toBe(5);
  engine.fork(0, 1);
  engine.fork(0, 2);
  expect(kv.live).toBe(5);
  // Each fork writes its own token at position 5: 2 new cells.
  engine.step(Int32Array.of(7, 8), Int32Array.of(5, 5), Int32Array.of(1, 2));
  expect(kv.live).toBe(7);
  // Truncating seq 1 back to the prompt frees its own cell only.
  engine.truncate(1, 5);
  expect(kv.live).toBe(6);
  // The prompt's cells stay while seq 2 holds them.
  engine.release(0);
  engine.release(1);
  expect(kv.live).toBe(6);
  engine.release(2);
  expect(kv.live).toBe(0);
  expect(kv.peak).toBe(7);
  engine.prefill(3, [1, 2]);
  engine.clear();
  expect(kv.live).toBe(0);
  kv.restore();
  for (const key of Object.keys(prototypeless)) expect((engine as Record<string, unknown>)[key]).toBe((prototypeless as Record<string, unknown>)[key]);
});

test("on stories260K: plain sampling holds prompt + answer cells; the guard's peak stays within requiredContextCells", async () => {
  const engine = await Engine.load({ modelPath: STORIES_MODEL, contextSize: 1024 });
  const cost = RulesCostModel.fromTerms({ never: 1 });
  const kv = new KvCellCounter(engine);
  try {
    const prompt = engine.completionPrompt("Once upon a time");
    kv.peak = 0;
    await generatePlain({ engine, promptTokens: prompt, method: "sample", options: { seed: 1, maxTokens: 24, ignoreEos: true } });
    // One cell per prompt and answer token (the last answer token may or may not be decoded).
    expect(kv.peak).toBeGreaterThanOrEqual(prompt.length + 24 - 1);
    expect(kv.peak).toBeLessThanOrEqual(prompt.length + 24);
    const o = { beams: 4, samples: 8, width: 8, maxTokens: 24 };
    kv.peak = 0;
    const r = await generateGuarded({ engine, promptTokens: prompt, cost, options: { ...o, seed: 1, ignoreEos: true } });
    expect(r.tokens).toBe(24);
    expect(kv.peak).toBeGreaterThan(prompt.length + 24);
    expect(kv.peak).toBeLessThanOrEqual(requiredContextCells(prompt.length, o));
  } finally {
    kv.restore();
    await engine.dispose();
  }
});
