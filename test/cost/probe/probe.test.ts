// The latent probe: batched forward passes (trie, forks, reuse across calls) agree with one text
// at a time; training separates a synthetic marker-word set; the probe file round-trips, refuses
// another model, and scores with clipped-increase step costs; the train-probe CLI.
import { jest } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { ProbeCostModel, PROBE_MODEL_ENV, foldProbeWeights, loadProbeCostModel } from "../../../src/cost/probe/probe.js";
import { readProbeFile, writeProbeFile, type ProbeFile } from "../../../src/cost/probe/probeFormat.js";
import { fileSha256 } from "../../../src/util/fileHash.js";
import { fitLogistic } from "../../../src/util/logistic.js";
import { PrefixForward } from "../../../src/engine/prefixForward.js";
import { Engine } from "../../../src/engine/engine.js";
import { UserError } from "../../../src/errors.js";
import { MODEL_ENV } from "../../../src/paths.js";
import { extractFeatures, predict, stratifiedSplit, stratifiedSubset } from "../../../src/cost/probe/trainProbe.js";
import { mulberry32 } from "../../../src/util/random.js";
import { STORIES_MODEL, TINY_RANDOM_MODEL, expectSameRow } from "../../helpers/models.js";
import { cli } from "../../helpers/cli.js";

/** Short stories; the unsafe ones carry a conflict word in the middle, never at the end. */
function markerExamples(n: number, seed: number): Array<{ text: string; label: 0 | 1 }> {
  const rng = mulberry32(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rng() * a.length)];
  const names = ["Tom", "Lily", "Sam", "Mia", "Ben", "Sue", "Max", "Anna"];
  const places = ["park", "house", "garden", "school", "forest", "beach"];
  const things = ["ball", "cat", "dog", "cake", "tree", "car", "book", "toy"];
  const calm = ["happy", "little", "big", "red", "soft", "funny"];
  const marker = ["angry", "scared", "sad", "mad"];
  return Array.from({ length: n }, (_, i) => {
    const label = (i % 2) as 0 | 1;
    const text = `${pick(names)} went to the ${pick(places)}. The ${pick(things)} was ${label ? pick(marker) : pick(calm)}. Then ${pick(names)} saw a ${pick(things)}.`;
    return { text, label };
  });
}

const dir = mkdtempSync(join(tmpdir(), "ig-probe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("PrefixForward", () => {
  let engine: Engine;
  let solo: Engine;
  beforeAll(async () => {
    const options = { modelPath: STORIES_MODEL, threads: 1, contextSize: 2048, maxSequences: 17, kvCacheType: "f32" as const };
    [engine, solo] = await Promise.all([Engine.load(options), Engine.load(options)]);
  });
  afterAll(async () => Promise.all([engine?.dispose(), solo?.dispose()]));

  /** Each text alone, from an empty cache. */
  function oneAtATime(pooling: "last" | "mean" | "both", texts: string[]): Float32Array[] {
    return texts.map((t) => {
      solo.clear();
      return new PrefixForward(solo, { output: { kind: "hidden", pooling }, reuse: false }).run([solo.completionPrompt(t)])[0];
    });
  }

  test("mean pooling is the average of node-llama-cpp's own hidden rows (an independent reference)", async () => {
    // node-llama-cpp's public embedding API evaluates each prefix from scratch, through none of our
    // addon's code: the state of its last token is the row at that position.
    const tokens = solo.completionPrompt("The little dog ran to the park and found a red ball.");
    solo.clear();
    const [ours] = new PrefixForward(solo, { output: { kind: "hidden", pooling: "mean" }, reuse: false }).run([tokens]);
    const reference = new Float32Array(64);
    for (let n = 1; n <= tokens.length; n++) {
      const row = await solo.referenceHidden(tokens.slice(0, n));
      row.forEach((x, j) => (reference[j] += x / tokens.length));
    }
    expectSameRow(ours, reference);
  });

  test.each(["last", "mean", "both"] as const)("%s: a growing search's blocks match one text at a time", (pooling) => {
    engine.clear();
    const forward = new PrefixForward(engine, { output: { kind: "hidden", pooling } });
    const words = "Once upon a time there was a little girl named Lily who liked to play in the park with her dog".split(" ");
    let prefix = "Once upon";
    for (let block = 0; block < 6; block++) {
      // A search block: the prefix (kept from the last call) and candidates that extend it, more
      // than one chunk holds (8 texts with 17 sequences), so texts kept from every chunk are reused.
      const texts = [prefix, ...Array.from({ length: 10 }, (_, k) => `${prefix} ${words[(block * 3 + k) % words.length]} ${words[(block + 5 * k) % words.length]}`)];
      texts.push(texts[1]); // a duplicate gets the same row
      const rows = forward.run(texts.map((t) => engine.completionPrompt(t)));
      const alone = oneAtATime(pooling, texts);
      expect(rows.map((r) => r.length)).toEqual(texts.map(() => (pooling === "both" ? 128 : 64)));
      rows.forEach((r, i) => expectSameRow(r, alone[i]));
      prefix = texts[1 + ((3 * block) % 10)];
    }
  });

  test.each(["last", "mean"] as const)("%s: a text that extends a kept one decodes only its new tokens", (pooling) => {
    engine.clear();
    const forward = new PrefixForward(engine, { output: { kind: "hidden", pooling } });
    const first = engine.completionPrompt("Once upon a time there was a little girl named Lily who liked to play");
    forward.run([first]);
    const grown = engine.completionPrompt("Once upon a time there was a little girl named Lily who liked to play in the park");
    const step = jest.spyOn(engine, "step");
    try {
      const [row] = forward.run([grown]);
      // One decode per token after the shared prefix (at most one more where the boundary re-tokenizes).
      expect(step.mock.calls.length).toBeLessThanOrEqual(grown.length - first.length + 1);
      expectSameRow(row, oneAtATime(pooling, ["Once upon a time there was a little girl named Lily who liked to play in the park"])[0]);
    } finally {
      step.mockRestore();
    }
  });

  test("shared among callers that take turns, each caller's next call still extends its own texts", () => {
    const a1 = "Once upon a time there was a little girl named Lily who liked to play";
    const b1 = "The big brown dog ran to the park to find his red ball and his friend the cat";
    const a2 = `${a1} in the park`;
    const decodesOfA2 = (callers: number): number => {
      engine.clear();
      const forward = new PrefixForward(engine, { output: { kind: "hidden", pooling: "last" } });
      forward.shareAmong(callers);
      forward.run([engine.completionPrompt(a1)]);
      forward.run([engine.completionPrompt(b1)]); // the other generation's block comes between
      const step = jest.spyOn(engine, "step");
      try {
        const [row] = forward.run([engine.completionPrompt(a2)]);
        expectSameRow(row, oneAtATime("last", [a2])[0]);
        return step.mock.calls.length;
      } finally {
        step.mockRestore();
      }
    };
    const fresh = engine.completionPrompt(a2).length - engine.completionPrompt(a1).length;
    expect(decodesOfA2(2)).toBeLessThanOrEqual(fresh + 1);
    // With one caller only the last call's texts are kept: a2 is decoded from the start.
    expect(decodesOfA2(1)).toBeGreaterThan(fresh + 1);
  });

  test("more texts than sequences run in chunks; a text longer than the context is a UserError", () => {
    engine.clear();
    const forward = new PrefixForward(engine, { output: { kind: "hidden", pooling: "last" } });
    const texts = Array.from({ length: 20 }, (_, i) => `The dog number ${i} ran to the tree.`);
    const rows = forward.run(texts.map((t) => engine.completionPrompt(t)));
    const alone = oneAtATime("last", texts);
    rows.forEach((r, i) => expectSameRow(r, alone[i]));
    expect(() => forward.run([new Array(3000).fill(1)])).toThrow(UserError);
  });

  test("a trie larger than the KV cache is split until it fits, with the same results", async () => {
    const small = await Engine.load({ modelPath: STORIES_MODEL, threads: 1, contextSize: 256, maxSequences: 17, kvCacheType: "f32" });
    try {
      // No cell limits: a chunk of 8 texts is decoded together and overflows the cache.
      const forward = new PrefixForward(small, { output: { kind: "hidden", pooling: "mean" }, flightCells: Infinity, keepCells: Infinity });
      const texts = Array.from({ length: 16 }, (_, i) => `Number ${i}: the little dog ran to the big tree and barked at the cat on the wall. Then it went home to sleep.`);
      // Eight texts (one chunk, with room kept for reuse) need more cells than the cache has.
      for (const t of texts) expect(small.completionPrompt(t).length).toBeGreaterThan(256 / 8);
      const rows = forward.run(texts.map((t) => small.completionPrompt(t)));
      const alone = oneAtATime("mean", texts);
      rows.forEach((r, i) => expectSameRow(r, alone[i]));
    } finally {
      await small.dispose();
    }
  });

  test("logits output reads the chosen tokens at each text's last position", () => {
    engine.clear();
    const forward = new PrefixForward(engine, { output: { kind: "logits", tokens: [5, 300, 7] } });
    const texts = ["Lily saw a cat", "Lily saw a dog and", "Tom"];
    const rows = forward.run(texts.map((t) => engine.completionPrompt(t)));
    texts.forEach((t, i) => {
      solo.clear();
      const row = solo.prefill(0, solo.completionPrompt(t));
      const logits = solo.logits(row);
      expectSameRow(rows[i], [logits[5], logits[300], logits[7]]);
    });
  });
});

describe("splits", () => {
  test("a subset has exactly the size asked, labels in proportion; a split keeps both labels on both sides", () => {
    const examples = Array.from({ length: 100 }, (_, i) => ({ text: `t${i}`, label: (i < 30 ? 1 : 0) as 0 | 1 }));
    const subset = stratifiedSubset(examples, 37, mulberry32(2));
    expect(subset).toHaveLength(37);
    expect(subset.filter((e) => e.label === 1)).toHaveLength(11);
    expect(new Set(subset.map((e) => e.text)).size).toBe(37);
    const few = stratifiedSubset(examples.slice(25), 10, mulberry32(2)); // 5 unsafe of 75
    expect(few.filter((e) => e.label === 1)).toHaveLength(2);
    const { train, validation } = stratifiedSplit(4, (i) => (i < 2 ? 1 : 0), 0.1, mulberry32(1));
    expect([train.length, validation.length]).toEqual([2, 2]);
  });
});

describe("logistic regression", () => {
  test("fits a separable problem, deterministically for a seed", () => {
    const rng = mulberry32(3);
    const n = 200;
    const d = 10;
    const X = new Float32Array(n * d);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 2;
      for (let j = 0; j < d; j++) X[i * d + j] = rng() * 4 - 2 + (j === 3 ? (y[i] ? 2.5 : -2.5) : 0);
    }
    const { train, validation } = stratifiedSplit(n, (i) => y[i], 0.25, mulberry32(1));
    expect(validation.length).toBe(50);
    expect(validation.filter((i) => y[i] === 1).length).toBe(25);
    const o = { epochs: 40, learningRate: 0.05, l2: 1e-3, batchSize: 16 };
    const a = fitLogistic(X, d, y, train, o, 9);
    const b = fitLogistic(X, d, y, train, o, 9);
    expect(Array.from(a.w)).toEqual(Array.from(b.w));
    // The informative feature dominates; the held-out rows are classified well.
    expect(Math.abs(a.w[3])).toBeGreaterThan(3 * Math.max(...Array.from(a.w).filter((_, j) => j !== 3).map(Math.abs)));
    const p = predict(a, X, d, validation);
    const correct = validation.filter((r, k) => (p[k] >= 0.5 ? 1 : 0) === y[r]).length;
    expect(correct / validation.length).toBeGreaterThanOrEqual(0.96);
  });
});

describe("train-probe and the probe cost model", () => {
  const data = join(dir, "marker.jsonl");
  const probePath = join(dir, "probe.json");
  let trained: { code: number; out: string; err: string };
  let probe: ProbeCostModel;

  beforeAll(async () => {
    writeFileSync(data, markerExamples(120, 11).map((e) => JSON.stringify(e)).join("\n") + "\n");
    trained = await cli("train-probe", "--model", STORIES_MODEL, "--data", data, "--out", probePath, "--epochs", "60", "--seed", "5");
    probe = await ProbeCostModel.load(probePath);
  });
  afterAll(async () => probe?.dispose());

  test("the CLI trains, reports validation AUC/accuracy, and writes a valid probe file", () => {
    expect(trained.err).not.toMatch(/inference-guard:/);
    expect(trained.code).toBe(0);
    expect(trained.out).toMatch(/validation: AUC \d\.\d{3}, accuracy \d\.\d{3}/);
    expect(trained.out).toMatch(/pooling: last AUC .* vs mean AUC .* -> (last|mean)/);
    expect(trained.err).toMatch(/features/); // the progress bar
    // --pooling auto fits 4 models: the fit bar counts their epochs and says so.
    expect(trained.err).toMatch(/fit \[#+\] 240\/240 epochs \(4 fits x 60: --pooling auto fits both poolings\)/);
    const file = readProbeFile(probePath);
    expect(file.model).toMatchObject({ file: basename(STORIES_MODEL), nEmbd: 64, nVocab: 512 });
    expect(file.metrics.validation!.auc).toBeGreaterThanOrEqual(0.95);
    expect(file.metrics.validation!.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(file.training).toMatchObject({ seed: 5, epochs: 60, examples: 120 });
  });

  test("scores new marker texts above calm ones; costs are probabilities, cost('') = 0", async () => {
    const fresh = markerExamples(40, 99);
    const costs = await probe.costs(fresh.map((e) => e.text));
    for (const c of costs) {
      expect(c).toBeGreaterThanOrEqual(0);
      expect(c).toBeLessThanOrEqual(1);
    }
    const mean = (label: number) => {
      const xs = costs.filter((_, i) => fresh[i].label === label);
      return xs.reduce((s, x) => s + x, 0) / xs.length;
    };
    expect(mean(1) - mean(0)).toBeGreaterThan(0.5);
    expect(probe.cost("")).toBe(0);
  });

  test("scoring matches the training features' prediction (same forward pass, same weights)", async () => {
    const file = readProbeFile(probePath);
    const texts = markerExamples(6, 4).map((e) => e.text);
    const engine = await Engine.load({ modelPath: STORIES_MODEL, threads: 1, contextSize: 1024, maxSequences: 16, kvCacheType: "f32" });
    try {
      const { last, mean } = await extractFeatures(engine, texts, 256, false);
      const w = foldProbeWeights(file);
      const model = { mean: new Float64Array(64), std: new Float64Array(64).fill(1), w: w.w, b: w.b };
      const expected = predict(model, file.pooling === "last" ? last : mean, 64, texts.map((_, i) => i));
      probe.costs(texts).forEach((g, i) => expect(Math.abs(g - expected[i])).toBeLessThan(1e-4));
      // The same weights over an engine the caller owns score the same.
      const inline = ProbeCostModel.onEngine(engine, w);
      inline.costs(texts).forEach((g, i) => expect(Math.abs(g - expected[i])).toBeLessThan(1e-4));
    } finally {
      await engine.dispose();
    }
  });

  test("step costs are the clipped increase over the prefix, batched like one at a time", async () => {
    const prefixes = ["Tom went to the park.", "Lily was", ""];
    const adds = [" The ball was angry.", " happy and", " Then Sam saw a cat.", ""];
    const items = prefixes.flatMap((prefix) => adds.map((added) => ({ prefix, added })));
    const steps = await probe.stepCosts(items);
    for (let i = 0; i < items.length; i++) {
      const { prefix, added } = items[i];
      const expected = added === "" ? 0 : Math.max(0, probe.cost(prefix + added) - probe.cost(prefix));
      expect(steps[i]).toBeCloseTo(expected, 12);
      expect(steps[i]).toBeGreaterThanOrEqual(0);
    }
    // A fresh model (empty cache, one text per call) gives the same numbers.
    const other = await ProbeCostModel.load(probePath);
    try {
      for (const { prefix, added } of items) {
        const solo = other.cost(prefix + added);
        expect(Math.abs(solo - probe.cost(prefix + added))).toBeLessThan(1e-5);
      }
    } finally {
      await other.dispose();
    }
  });

  test("loadProbeCostModel resolves the probe relative to baseDir and names it", async () => {
    const m = await loadProbeCostModel(basename(probePath), dir);
    try {
      expect(m.name).toBe(`probe:${probePath}`);
      expect(m.cost("Tom was sad.")).toBeCloseTo(probe.cost("Tom was sad."), 5);
    } finally {
      await m.dispose();
    }
  });

  describe("refuses what it cannot use", () => {
    const variant = (name: string, change: (p: ProbeFile) => unknown): string => {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify(change(JSON.parse(readFileSync(probePath, "utf8")) as ProbeFile)));
      return path;
    };

    test("another model: sha256 mismatch (env override) and nEmbd mismatch", async () => {
      process.env[PROBE_MODEL_ENV] = TINY_RANDOM_MODEL;
      try {
        await expect(ProbeCostModel.load(probePath)).rejects.toThrow(/trained for stories260K.gguf .* another model/);
      } finally {
        delete process.env[PROBE_MODEL_ENV];
      }
      const sha = await fileSha256(TINY_RANDOM_MODEL);
      const path = variant("tiny.json", (p) => ({ ...p, model: { ...p.model, path: TINY_RANDOM_MODEL, sha256: sha } }));
      await expect(ProbeCostModel.load(path)).rejects.toThrow(/expects hidden size 64 but .* has 8/);
    });

    test("a missing model: falls back to $INFERENCE_GUARD_MODEL, else names the variable to set", async () => {
      const path = variant("moved.json", (p) => ({ ...p, model: { ...p.model, path: "no/such/model.gguf" } }));
      const saved = process.env[MODEL_ENV];
      try {
        delete process.env[MODEL_ENV];
        await expect(ProbeCostModel.load(path)).rejects.toThrow(new RegExp(`not at .*no/such/model.gguf: set \\$${PROBE_MODEL_ENV}`));
        process.env[MODEL_ENV] = STORIES_MODEL;
        const m = await ProbeCostModel.load(path);
        await m.dispose();
      } finally {
        if (saved === undefined) delete process.env[MODEL_ENV];
        else process.env[MODEL_ENV] = saved;
      }
    });

    test("a missing recorded path: found by its file name in the models cache ($INFERENCE_GUARD_MODELS_DIR)", async () => {
      const path = variant("cached.json", (p) => ({ ...p, model: { ...p.model, path: "no/such/stories260K.gguf" } }));
      const saved = [process.env.INFERENCE_GUARD_MODELS_DIR, process.env[MODEL_ENV]] as const;
      try {
        delete process.env[MODEL_ENV];
        process.env.INFERENCE_GUARD_MODELS_DIR = dirname(STORIES_MODEL);
        const m = await ProbeCostModel.load(path);
        await m.dispose();
        process.env.INFERENCE_GUARD_MODELS_DIR = join(dir, "empty-cache");
        await expect(ProbeCostModel.load(path)).rejects.toThrow(/not at .*no\/such\/stories260K.gguf/);
      } finally {
        if (saved[0] === undefined) delete process.env.INFERENCE_GUARD_MODELS_DIR;
        else process.env.INFERENCE_GUARD_MODELS_DIR = saved[0];
        if (saved[1] === undefined) delete process.env[MODEL_ENV];
        else process.env[MODEL_ENV] = saved[1];
      }
    });

    test.each([
      ["missing file", () => join(dir, "nope.json"), /probe file not found/],
      ["not JSON", () => (writeFileSync(join(dir, "bad.json"), "{oops"), join(dir, "bad.json")), /not valid JSON/],
      ["another format", () => variant("rules.json", () => ({ terms: { hit: 1 } })), /is not a probe file/],
      ["a newer version", () => variant("v2.json", (p) => ({ ...p, formatVersion: 2 })), /format version 2; this inference-guard reads version 1/],
      ["wrong weight count", () => variant("short.json", (p) => ({ ...p, weights: p.weights.slice(1) })), /weights: must have model.nEmbd = 64 values, got 63/],
      ["zero std", () => variant("std.json", (p) => ({ ...p, standardization: { ...p.standardization, std: p.standardization.std.map(() => 0) } })), /std.*must be > 0/],
    ])("%s", async (_name, make, message) => {
      const path = make();
      await expect(ProbeCostModel.load(path)).rejects.toThrow(UserError);
      await expect(ProbeCostModel.load(path)).rejects.toThrow(message);
    });
  });

  test("writeProbeFile round-trips through readProbeFile", () => {
    const file = readProbeFile(probePath);
    const copy = join(dir, "copy.json");
    writeProbeFile(copy, file);
    expect(readProbeFile(copy)).toEqual(file);
  });
});

test("train-probe --dataset reads the shared labelled data (GPTFuzz answers)", async () => {
  const out = join(dir, "gptfuzz.json");
  const r = await cli("train-probe", "--model", STORIES_MODEL, "--dataset", "gptfuzz", "--max-examples", "60", "--max-tokens", "48", "--epochs", "5", "--pooling", "last", "--out", out, "--json");
  expect(r.code).toBe(0);
  const summary = JSON.parse(r.out);
  expect(summary).toMatchObject({ out, pooling: "last" });
  expect(r.err).toMatch(/fit \[#+\] 5\/5 epochs 100%/); // one fit: its epochs, nothing more
  expect(summary.train.examples + summary.validation.examples).toBe(60);
  expect(summary.validation.examples).toBeGreaterThanOrEqual(10);
  expect(readProbeFile(out).training).toMatchObject({ data: "dataset:gptfuzz", examples: 60, maxTokens: 48 });
});

describe("train-probe CLI mistakes are one line, exit 2", () => {
  test("--help explains every flag and its default", async () => {
    const help = await cli("train-probe", "--help");
    expect(help.code).toBe(0);
    for (const flag of ["--model", "--data", "--dataset", "--out", "--pooling", "--epochs", "--seed", "--max-examples", "--max-tokens", "--lr", "--l2", "--val-fraction", "--threads"]) {
      expect(help.out).toContain(flag);
    }
    expect(help.out).toMatch(/default auto/);
    expect((await cli("--help")).out).toContain("train-probe");
  });

  test.each([
    [["--data", "x.jsonl"], /--out FILE is required/],
    [["--out", join(dir, "p.json")], /exactly one of --data/],
    [["--data", join(dir, "none.jsonl"), "--out", join(dir, "p.json")], /data file not found/],
    [["--data", "x", "--out", join(dir, "no", "dir", "p.json")], /output folder does not exist/],
    [["--data", "x", "--out", join(dir, "p.json"), "--pooling", "max"], /--pooling must be one of last, mean, auto/],
    [["--data", "x", "--out", join(dir, "p.json"), "--epochs", "1.5"], /--epochs expects an integer/],
    [["--dataset", "mnist", "--out", join(dir, "p.json")], /--dataset must be one of/],
  ])("%j", async (args, message) => {
    const r = await cli("train-probe", ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  test("bad lines and one-label data", async () => {
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, '{"text": "a", "label": 1}\n{"text": "b", "label": 2}\n');
    let r = await cli("train-probe", "--data", bad, "--out", join(dir, "p.json"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad.jsonl:2: label: label must be 0 \(safe\) or 1 \(unsafe\)/);
    const one = join(dir, "one.jsonl");
    writeFileSync(one, ['{"text": "a", "label": 1}', '{"text": "b", "label": 1}', '{"text": "c", "label": 0}'].join("\n"));
    r = await cli("train-probe", "--data", one, "--out", join(dir, "p.json"), "--model", STORIES_MODEL);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/needs both labels/);
    const ok = join(dir, "ok.jsonl");
    writeFileSync(ok, markerExamples(8, 1).map((e) => JSON.stringify(e)).join("\n"));
    r = await cli("train-probe", "--data", ok, "--out", join(dir, "p.json"), "--model", join(dir, "missing.gguf"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/model file not found: .*missing.gguf/);
  });
});
