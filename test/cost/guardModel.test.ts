// The guard-model cost model on the shipped tiny models. They are no classifiers, so these tests
// check the mechanics: probabilities in [0, 1] equal to the two-label softmax of a plain decode,
// deterministic, the template really applied, batching equal to one text at a time, step costs as
// clipped increases, and every config mistake refused with one clear line.
import { jest } from "@jest/globals";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { DEFAULT_GUARD_TEMPLATE, GuardCostModel, loadGuardCostModel, type GuardConfigInput } from "../../src/cost/guardModel.js";
import { Engine } from "../../src/engine/engine.js";
import { UserError } from "../../src/errors.js";
import { BOTH_MODELS, STORIES_MODEL, TINY_RANDOM_MODEL } from "../helpers/models.js";

const dir = mkdtempSync(join(tmpdir(), "ig-guard-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TEXTS = ["Tom hit the dog.", "Lily hugged her mom and smiled.", "The sun was warm.", "Once upon a time"];

/** P(unsafe) from scratch: decode the rendered prompt alone and compare the two label logits. */
function plainDecodeProbability(engine: Engine, tokens: number[], [unsafe, safe]: readonly [number, number]): number {
  engine.clear();
  const logits = engine.logits(engine.prefill(0, tokens));
  return 1 / (1 + Math.exp(logits[safe] - logits[unsafe]));
}

describe.each(BOTH_MODELS)("%s with the default Llama Guard-style template", (_name, modelPath) => {
  let guard: GuardCostModel;
  let plain: Engine;
  beforeAll(async () => {
    // guard:PATH with a relative .gguf path, as the registry passes it.
    guard = await loadGuardCostModel(basename(modelPath), dirname(modelPath));
    plain = await Engine.load({ modelPath, threads: 1, contextSize: 2048, maxSequences: 2, kvCacheType: "f32" });
  });
  afterAll(async () => Promise.all([guard?.dispose(), plain?.dispose()]));

  test("scores are P(unsafe) over the first tokens of ' unsafe' / ' safe' after the prompt, in [0, 1]", () => {
    expect(guard.name).toBe(`guard:${modelPath}`);
    expect(guard.config.template).toBe(DEFAULT_GUARD_TEMPLATE);
    expect(guard.render("Hi.")).toContain("Agent: Hi.\n");
    const [unsafe, safe] = guard.labelTokens;
    expect(unsafe).not.toBe(safe);
    // The label tokens are what follows the prompt when the label is appended to it.
    const prompt = guard.promptTokens("Hi.");
    expect(plain.completionPrompt(guard.render("Hi.") + " unsafe")[prompt.length]).toBe(unsafe);
    expect(plain.completionPrompt(guard.render("Hi.") + " safe")[prompt.length]).toBe(safe);
    const costs = guard.costs(TEXTS);
    TEXTS.forEach((t, i) => {
      expect(costs[i]).toBeGreaterThanOrEqual(0);
      expect(costs[i]).toBeLessThanOrEqual(1);
      expect(Math.abs(costs[i] - plainDecodeProbability(plain, guard.promptTokens(t), guard.labelTokens))).toBeLessThan(1e-4);
    });
  });

  test("deterministic: cached and recomputed scores agree; cost('') is 0", async () => {
    const first = guard.costs(TEXTS);
    expect(guard.costs(TEXTS)).toEqual(first);
    guard.clearCache();
    guard.costs(TEXTS).forEach((c, i) => expect(Math.abs(c - first[i])).toBeLessThan(1e-5));
    expect(guard.cost("")).toBe(0);
  });
});

describe("a JSON guard config on stories260K", () => {
  const write = (name: string, config: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof config === "string" ? config : JSON.stringify(config));
    return path;
  };
  const base: GuardConfigInput = {
    model: relative(dir, STORIES_MODEL), // relative to the config's folder
    template: "Story: {text}\nWas the story kind? Answer:",
    unsafe: " no",
    safe: " yes",
  };
  let guard: GuardCostModel;
  beforeAll(async () => {
    guard = await GuardCostModel.load(write("kind.json", base));
  });
  afterAll(async () => guard?.dispose());

  test("the template is applied: another template changes the scores, chat mode too", async () => {
    const other = await GuardCostModel.load(write("other.json", { ...base, template: "{text}\nQuestion: was that mean? Answer:" }));
    const chat = await GuardCostModel.load(write("chat.json", { ...base, chat: true }));
    try {
      expect(guard.render("Hi.")).toBe("Story: Hi.\nWas the story kind? Answer:");
      const a = guard.costs(TEXTS);
      const b = other.costs(TEXTS);
      const c = chat.costs(TEXTS);
      TEXTS.forEach((_, i) => {
        expect(Math.abs(a[i] - b[i])).toBeGreaterThan(1e-4);
        expect(Math.abs(a[i] - c[i])).toBeGreaterThan(1e-4);
      });
      // Chat mode wraps the rendered template in the model's chat template.
      expect(chat.promptTokens("Hi.").length).toBeGreaterThan(guard.promptTokens("Hi.").length);
    } finally {
      await Promise.all([other.dispose(), chat.dispose()]);
    }
  });

  test("many texts per decode give the same numbers as one text per call", async () => {
    const texts = Array.from({ length: 24 }, (_, i) => `${TEXTS[i % 4]} Then ${i} birds sang.`);
    const batched = guard.costs(texts);
    // The next block: every text grows; each reuses its kept prefix (template tail cut off).
    const grown = texts.map((t, i) => `${t} ${i % 2 ? "The end." : "They ran home"}`);
    const next = guard.costs(grown);
    const solo = await GuardCostModel.load(write("solo.json", base));
    try {
      [...texts, ...grown].forEach((t, i) => {
        solo.clearCache();
        expect(Math.abs(solo.cost(t) - [...batched, ...next][i])).toBeLessThan(1e-5);
      });
    } finally {
      await solo.dispose();
    }
  });

  test("the template's head is decoded once, not per text", () => {
    const a = guard.promptTokens("A");
    const z = guard.promptTokens("Z");
    let head = 0;
    while (a[head] === z[head]) head++;
    const text = "A frog sat on a log by the pond.";
    const step = jest.spyOn(guard.engine, "step");
    try {
      guard.cost(text);
      expect(step.mock.calls.length).toBeLessThanOrEqual(guard.promptTokens(text).length - head + 1);
    } finally {
      step.mockRestore();
    }
  });

  test("step costs are clipped increases over the prefix", async () => {
    const items = [
      { prefix: "", added: "Tom hit the dog." },
      { prefix: "Tom hit the dog.", added: " He was sad." },
      { prefix: "Tom hit the dog.", added: " Then he said sorry." },
      { prefix: "Lily smiled.", added: "" },
    ];
    const steps = await guard.stepCosts(items);
    items.forEach(({ prefix, added }, i) => {
      const expected = added === "" ? 0 : Math.max(0, guard.cost(prefix + added) - guard.cost(prefix));
      expect(steps[i]).toBeCloseTo(expected, 12);
    });
    expect(steps[0]).toBeCloseTo(guard.cost("Tom hit the dog."), 12);
    expect(steps[3]).toBe(0);
  });

  test.each([
    ["a missing file", () => join(dir, "none.json"), /guard config not found: .*none.json/],
    ["not JSON", () => write("bad.json", "{model:"), /guard config .*bad.json is not valid JSON/],
    ["no {text}", () => write("t0.json", { ...base, template: "Story. Answer:" }), /template: must contain \{text\} exactly once/],
    ["two {text}", () => write("t2.json", { ...base, template: "{text} and {text}" }), /template: must contain \{text\} exactly once/],
    ["an unknown key", () => write("key.json", { ...base, labels: ["a", "b"] }), /invalid guard config .*labels/],
    ["equal labels", () => write("same.json", { ...base, safe: " no" }), /labels must differ/],
    ["a missing model", () => write("nomodel.json", { ...base, model: "nowhere.gguf" }), /guard model not found: .*nowhere.gguf/],
    ["labels with the same first token", () => write("first.json", { ...base, unsafe: " yes please", safe: " yes sir" }), /both start with token .* choose labels whose first tokens differ/],
  ])("refuses %s", async (_name, make, message) => {
    const path = make();
    await expect(GuardCostModel.load(path)).rejects.toThrow(UserError);
    await expect(GuardCostModel.load(path)).rejects.toThrow(message);
  });
});

test("a label that merges with the end of the prompt is refused", async () => {
  // Llama-2's vocabulary has "▁unsafe": "... un" + "safe" is not "... un" followed by a label token.
  await expect(
    GuardCostModel.fromConfig({ model: TINY_RANDOM_MODEL, template: "{text} The answer is un", unsafe: "safe", safe: "known" }),
  ).rejects.toThrow(/merges with the end of the prompt/);
});
