// The fast path (our batched decode reading each beam's own batch row) must give the same
// last-layer hidden states as re-encoding the whole sequence through node-llama-cpp's public
// embedding API, after batching, forks and long prefixes.
import { Engine } from "../../src/engine/engine.js";
import { BOTH_MODELS, SAME_ROW_TOLERANCE, expectSameRow, relativeDiff } from "../helpers/models.js";

const GREEDY = { temperature: 0, topK: 0, topP: 1 };
const SAMPLE = { temperature: 1, topK: 0, topP: 1 };

describe.each(BOTH_MODELS)("%s", (_name, modelPath) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load({ modelPath, maxSequences: 8, contextSize: 4096, batchSize: 256 });
  });
  afterAll(async () => engine?.dispose());

  async function expectMatchesReference(hidden: Float32Array, tokens: number[]): Promise<Float32Array> {
    const reference = await engine.referenceHidden(tokens);
    expect(reference.length).toBe(engine.info.nEmbd);
    expectSameRow(hidden, reference);
    return reference;
  }

  test("after prefill", async () => {
    engine.clear();
    const prompt = engine.completionPrompt("Once upon a time, there was a little dog");
    const row = engine.prefill(0, prompt);
    await expectMatchesReference(engine.hidden(Int32Array.of(row)), prompt);
  });

  test("four prompts extended together in one batch per step", async () => {
    engine.clear();
    const prompts = ["Once upon a time", "The sun was hot and", "Tom and Sue went to the park. They", "A big red ball"].map((p) =>
      engine.completionPrompt(p),
    );
    const sequences = prompts.map((p) => [...p]);
    // A prefill's row is stale after the next decode: sample each prompt's first token right away.
    let next = prompts.map((p, seq) => engine.sample(Int32Array.of(engine.prefill(seq, p)), GREEDY, 0n).tokens[0]);
    for (let step = 0; step < 12; step++) {
      next.forEach((t, seq) => sequences[seq].push(t));
      engine.step(
        Int32Array.from(next),
        Int32Array.from(sequences, (s) => s.length - 1),
        Int32Array.from(sequences, (_, seq) => seq),
      );
      next = Array.from(engine.sample(Int32Array.from(sequences, (_, i) => i), SAMPLE, BigInt(step)).tokens);
    }
    const hidden = engine.hidden(Int32Array.of(0, 1, 2, 3));
    const row = (seq: number) => hidden.subarray(seq * engine.info.nEmbd, (seq + 1) * engine.info.nEmbd);
    const references = [];
    for (let seq = 0; seq < 4; seq++) references.push(await expectMatchesReference(row(seq), sequences[seq]));
    // The tolerance still tells rows apart: another sequence's row is far outside it.
    for (let seq = 0; seq < 4; seq++) {
      expect(relativeDiff(row(seq), references[(seq + 1) % 4])).toBeGreaterThan(20 * SAME_ROW_TOLERANCE);
    }
  });

  test("forks share the prefix and diverge; each matches a full re-encode", async () => {
    engine.clear();
    const prompt = engine.completionPrompt("Lily had a kite. One day");
    const row = engine.prefill(0, prompt);
    const forks = [1, 2, 3];
    for (const seq of forks) engine.fork(0, seq);
    const all = [0, ...forks];
    const seqTokens = all.map(() => [...prompt]);
    let next = Array.from(engine.sample(Int32Array.from(all, () => row), SAMPLE, 7n).tokens);
    for (let step = 0; step < 10; step++) {
      next.forEach((t, i) => seqTokens[i].push(t));
      engine.step(Int32Array.from(next), Int32Array.from(seqTokens, (s) => s.length - 1), Int32Array.from(all));
      next = Array.from(engine.sample(Int32Array.from(all, (_, i) => i), SAMPLE, BigInt(100 + step)).tokens);
    }
    const hidden = engine.hidden(Int32Array.from(all, (_, i) => i));
    for (let i = 0; i < all.length; i++) {
      await expectMatchesReference(hidden.subarray(i * engine.info.nEmbd, (i + 1) * engine.info.nEmbd), seqTokens[i]);
    }
    // A fork of a fork, after truncating back: still exact.
    engine.truncate(2, prompt.length + 5);
    engine.fork(2, 5);
    const branch = seqTokens[2].slice(0, prompt.length + 5);
    const extra = seqTokens[0][prompt.length];
    engine.step(Int32Array.of(extra), Int32Array.of(branch.length), Int32Array.of(5));
    await expectMatchesReference(engine.hidden(Int32Array.of(0)), [...branch, extra]);
  });

  test("long prefix (several prefill chunks)", async () => {
    engine.clear();
    const text = "Once upon a time, there was a little girl named Lily. She liked to play in the park with her dog. ";
    let prompt = engine.completionPrompt(text.repeat(12));
    prompt = prompt.slice(0, 700);
    const row = engine.prefill(0, prompt);
    await expectMatchesReference(engine.hidden(Int32Array.of(row)), prompt);
  });

  test("sampling is reproducible from the seed and differs across rows", () => {
    engine.clear();
    const prompt = engine.completionPrompt("Once upon a time, there was a");
    const row = engine.prefill(0, prompt);
    const rows = Int32Array.from({ length: 8 }, () => row);
    const hot = { temperature: 2, topK: 0, topP: 1 };
    const a = engine.sample(rows, hot, 42n).tokens;
    const b = engine.sample(rows, hot, 42n).tokens;
    const c = engine.sample(rows, hot, 43n).tokens;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(new Set([...Array.from(a), ...Array.from(c)]).size).toBeGreaterThan(1);
  });
});
