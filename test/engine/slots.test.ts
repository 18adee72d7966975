// Several generations on one engine at once (engine/slots.ts): their decodes really share a batch,
// and each keeps its own rows, sequences, seed, budget and abort, so its answer is the one it
// gets alone.
import { DEFAULT_COST_RULES } from "../../src/cost/load.js";
import { RulesCostModel } from "../../src/cost/rules.js";
import { Engine } from "../../src/engine/engine.js";
import { batchInvariantKvCacheType } from "../../src/engine/kvCacheType.js";
import { EngineSlots, slotSequences } from "../../src/engine/slots.js";
import { generateGuarded } from "../../src/search/guard.js";
import { generatePlain } from "../../src/search/plain.js";
import type { GuardOptions } from "../../src/search/options.js";
import type { GenerationResult } from "../../src/search/types.js";
import { STORIES_MODEL, expectSameRow, expectSearchWithinBudget } from "../helpers/models.js";

const SLOTS = 3;
let engine: Engine;
let slots: EngineSlots;
let lexicon: RulesCostModel;

beforeAll(async () => {
  // As createGuard loads it: with an f16 cache an answer could depend on its neighbours' cells (kvCacheType.ts).
  engine = await Engine.load({ modelPath: STORIES_MODEL, contextSize: SLOTS * 2048, maxSequences: SLOTS * slotSequences(SLOTS), threads: 1, kvCacheType: batchInvariantKvCacheType(STORIES_MODEL) });
  slots = new EngineSlots(engine, SLOTS);
  lexicon = RulesCostModel.fromFile(DEFAULT_COST_RULES);
});
afterAll(async () => engine?.dispose());

test("each slot gets its share of sequences and cells", () => {
  expect(slotSequences(1)).toBe(64);
  expect(slotSequences(4)).toBe(64);
  expect(slotSequences(8)).toBe(32);
  return slots.use(async (slot) => {
    expect(slot.info.maxSequences).toBe(slotSequences(SLOTS));
    expect(slot.info.contextSize).toBe(2048);
    expect(() => slot.fork(0, slot.info.maxSequences)).toThrow(/outside the slot/);
  });
});

test("slots decode in one batch and read their own rows at their offset", async () => {
  const prompts = ["Once upon a time", "The little dog ran", "Lily and Ben"].map((t) => engine.completionPrompt(t));
  // Each prompt alone, on the whole engine.
  const alone = prompts.map((p) => {
    engine.clear();
    const row = engine.prefill(0, p);
    return { hidden: engine.hidden(Int32Array.of(row)), logits: engine.logits(row) };
  });
  engine.clear();
  const before = slots.stats;
  const shared = await Promise.all(
    prompts.map((p) =>
      slots.use(async (slot) => {
        const row = await slot.prefill(0, p);
        const first = { row, hidden: slot.hidden(Int32Array.of(row)), logits: slot.logits(row) };
        // A fork and a one-token step: rows 0 and 1 of this slot's part of the next decode.
        slot.fork(0, 1);
        await slot.step(Int32Array.of(p[1], p[1]), Int32Array.of(p.length, p.length), Int32Array.of(0, 1));
        return { ...first, stepped: slot.hidden(Int32Array.of(0, 1)) };
      }),
    ),
  );
  const after = slots.stats;
  // The three prompts went in one decode, then the three 2-row steps in another.
  expect(after.decodes - before.decodes).toBe(2);
  expect(after.rows - before.rows).toBe(prompts.reduce((n, p) => n + p.length, 0) + 3 * 2);
  shared.forEach((s, i) => {
    // Its own prompt's last row (not a neighbour's, which is > 0.8 away: see SAME_ROW_TOLERANCE).
    expect(s.row).toBe(prompts[i].length - 1);
    expectSameRow(s.hidden, alone[i].hidden);
    expectSameRow(s.logits, alone[i].logits);
    // Both forks continued the same prompt with the same token: the same state.
    expectSameRow(s.stepped.subarray(engine.info.nEmbd), s.stepped.subarray(0, engine.info.nEmbd));
  });
});

test("a decode waits for every slot in use, so a slot's rows stay valid until it decodes again", async () => {
  const reference = (() => {
    engine.clear();
    const row = engine.prefill(0, engine.completionPrompt("Once upon"));
    return engine.hidden(Int32Array.of(row));
  })();
  engine.clear();
  let letRead!: () => void;
  const gate = new Promise<void>((resolve) => (letRead = resolve));
  const reader = slots.use(async (slot) => {
    const row = await slot.prefill(0, engine.completionPrompt("Once upon"));
    await gate; // busy elsewhere (a cost model, a timer) before reading its rows
    return slot.hidden(Int32Array.of(row));
  });
  const other = slots.use(async (slot) => {
    await slot.prefill(0, engine.completionPrompt("The dog")); // shares the reader's decode
    const decodes = slots.stats.decodes;
    const next = slot.prefill(1, engine.completionPrompt("The cat sat on the mat"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const heldBack = slots.stats.decodes === decodes;
    letRead();
    await next; // runs once the reader has left
    return heldBack;
  });
  expectSameRow(await reader, reference);
  await expect(other).resolves.toBe(true);
});

test("a generation that arrives while another decodes joins its next decodes, not its end", async () => {
  // One slot decodes back to back (as a long answer does between its yields); a second request
  // arrives on a later turn of the event loop (as an HTTP request does). Decodes give the loop a
  // turn once the thread has been busy about a millisecond, so the newcomer shares the running
  // one's decodes; run back to back, it would only start once the other had finished all of them.
  const STEPS = 400;
  const prompt = engine.completionPrompt("Once upon a time");
  let stepsDone = 0;
  let joinedAt = -1;
  let sharedDecodes = 0;
  const running = slots.use(async (slot) => {
    await slot.prefill(0, prompt);
    for (let i = 0; i < STEPS; i++) {
      await slot.step(Int32Array.of(prompt[1]), Int32Array.of(prompt.length + i), Int32Array.of(0));
      stepsDone++;
    }
  });
  await new Promise((resolve) => setImmediate(resolve));
  const arriving = new Promise<void>((resolve, reject) =>
    setTimeout(() => {
      slots
        .use(async (slot) => {
          const before = slots.stats.decodes;
          await slot.prefill(0, prompt);
          joinedAt = stepsDone;
          for (let i = 0; i < 8; i++) {
            await slot.step(Int32Array.of(prompt[1]), Int32Array.of(prompt.length + i), Int32Array.of(0));
            if (stepsDone < STEPS) sharedDecodes++;
          }
          expect(slots.stats.decodes - before).toBe(9);
        })
        .then(resolve, reject);
    }, 0),
  );
  await Promise.all([running, arriving]);
  expect(joinedAt).toBeGreaterThanOrEqual(0);
  expect(joinedAt).toBeLessThan(STEPS / 2);
  expect(sharedDecodes).toBe(8);
});

describe("guarded generations sharing the batch", () => {
  const prompts = ["Once upon a time", "The little dog ran", "Lily and Ben went to the park"];
  const settings: GuardOptions[] = [
    { seed: 1, maxTokens: 40, budget: 0.5 },
    { seed: 2, maxTokens: 32, budget: 2, beams: 2, samples: 4, width: 4 },
    { seed: 3, maxTokens: 48, budget: 1, samples: 6 },
  ];
  const run = (i: number, signal?: AbortSignal, onText?: (d: string) => void) =>
    slots.use((slot) => generateGuarded({ engine: slot, promptTokens: engine.completionPrompt(prompts[i]), cost: lexicon, options: settings[i], signal, onText }));

  test("each answer equals its answer alone (seed, budget and settings are its own)", async () => {
    const alone: GenerationResult[] = [];
    let aloneDecodes = 0;
    let aloneMostRowsPerDecode = 0;
    for (let i = 0; i < prompts.length; i++) {
      const before = slots.stats;
      alone.push(await run(i));
      const decodes = slots.stats.decodes - before.decodes;
      aloneDecodes += decodes;
      aloneMostRowsPerDecode = Math.max(aloneMostRowsPerDecode, (slots.stats.rows - before.rows) / decodes);
    }
    const before = slots.stats;
    const together = await Promise.all(prompts.map((_, i) => run(i)));
    const after = slots.stats;
    together.forEach((r, i) => {
      expect(r.text).toBe(alone[i].text);
      expect(r.seed).toBe(settings[i].seed);
      expect(r.budget).toBe(settings[i].budget);
      expectSearchWithinBudget(r);
    });
    // Shared decodes: fewer of them, each with more rows than any search had alone.
    expect(after.decodes - before.decodes).toBeLessThan(aloneDecodes);
    expect((after.rows - before.rows) / (after.decodes - before.decodes)).toBeGreaterThan(aloneMostRowsPerDecode);
  });

  test("aborting one generation leaves the others' answers unchanged", async () => {
    const alone = [await run(0), await run(2)];
    const controller = new AbortController();
    let streamed = "";
    const [a, aborted, c] = await Promise.all([
      run(0),
      run(1, controller.signal, (delta) => {
        streamed += delta;
        controller.abort();
      }),
      run(2),
    ]);
    expect(aborted.stopReason).toBe("aborted");
    expect(aborted.text.startsWith(streamed)).toBe(true);
    expect(a.text).toBe(alone[0].text);
    expect(c.text).toBe(alone[1].text);
  });

  test("plain sampling shares the batch with guarded searches and keeps its answer", async () => {
    const plain = (signal?: AbortSignal) =>
      slots.use((slot) => generatePlain({ engine: slot, promptTokens: engine.completionPrompt("One day"), method: "sample", options: { seed: 7, maxTokens: 30 }, signal }));
    const alone = await plain();
    const [together] = await Promise.all([plain(), run(0), run(2)]);
    expect(together.text).toBe(alone.text);
  });

  test("more generations than slots wait for a free one, first come first served", async () => {
    const started: number[] = [];
    const jobs = Array.from({ length: SLOTS + 2 }, (_, i) =>
      slots.use(async (slot) => {
        started.push(i);
        return generatePlain({ engine: slot, promptTokens: engine.completionPrompt("Once"), method: "sample", options: { seed: i, maxTokens: 8 } });
      }),
    );
    expect(slots.busy).toBe(SLOTS);
    await Promise.all(jobs);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(slots.busy).toBe(0);
  });
});
