// The shipped critic for the stories260K testbed, and the evidence command that measures it.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, test } from "@jest/globals";
import { DEFAULT_COST_RULES } from "../../src/cost/load.js";
import { Critic, assertCriticMatchesModel } from "../../src/critic/index.js";
import { Engine } from "../../src/engine/engine.js";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { evidenceMarkers, runCriticEvidence } from "../../src/critic/criticEvidence.js";
import { readPromptsFile } from "../../src/data/promptFile.js";
import { fileSha256 } from "../../src/util/fileHash.js";
import { STORIES_MODEL } from "../helpers/models.js";

const SHIPPED = join(PACKAGE_ROOT, "models", "stories260K-critic.bin");
const TRAIN_PROMPTS = join(PACKAGE_ROOT, "models", "testbed", "story-openings.train.jsonl");
const TEST_PROMPTS = join(PACKAGE_ROOT, "models", "testbed", "story-openings.test.jsonl");
const dir = mkdtempSync(join(tmpdir(), "critic-shipped-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("shipped critic", () => {
  test("loads, matches stories260K's hidden size and file, and records how it was trained", async () => {
    const critic = Critic.load(SHIPPED);
    const engine = await Engine.load({ modelPath: STORIES_MODEL, contextSize: 256, maxSequences: 2 });
    try {
      expect(critic.nEmbd).toBe(engine.info.nEmbd);
      expect(assertCriticMatchesModel(critic, { nEmbd: engine.info.nEmbd, name: "stories260K.gguf" })).toEqual([]);
      // It scores real hidden states: a budget already spent (z = 0) looks riskier than none.
      const row = engine.prefill(0, engine.completionPrompt("Once upon a time, there was a little girl named Lily."));
      const h = engine.hidden(Int32Array.of(row));
      const both = new Float32Array(2 * h.length);
      both.set(h, 0);
      both.set(h, h.length);
      const { safety } = critic.evaluate(both, Float32Array.of(1, 0), 2);
      expect(safety[0]).toBeGreaterThan(safety[1]);
      expect(safety[0]).toBeLessThan(1);
    } finally {
      await engine.dispose();
    }
    const { header } = critic;
    expect(header.model.sha256).toBe(await fileSha256(STORIES_MODEL));
    expect(header.normalization).toBe(true);
    expect(header.training).toMatchObject({ budget: 1, seed: 1, epochs: 15, cost: "rules:models/conflict-lexicon.json" });
    expect(header.training?.command).toEqual(expect.arrayContaining(["train-critic", "models/testbed/story-openings.train.jsonl"]));
    expect(readFileSync(SHIPPED).length).toBeLessThan(64 * 1024);
  });

  test("the prompt files are disjoint, varied and large enough", () => {
    const train = readPromptsFile(TRAIN_PROMPTS);
    const testPrompts = readPromptsFile(TEST_PROMPTS);
    expect(train.length).toBeGreaterThanOrEqual(60);
    expect(testPrompts.length).toBeGreaterThanOrEqual(120);
    expect(new Set(train).size).toBe(train.length);
    expect(new Set(testPrompts).size).toBe(testPrompts.length);
    expect(train.filter((p) => testPrompts.includes(p))).toEqual([]);
  });
});

describe("SmolLM2's critic: applies by what it reads", () => {
  const SMOLLM2_CRITIC = join(PACKAGE_ROOT, "models", "smollm2-135m-instruct-critic.bin");

  test("guarding SmolLM2 it loads with no warning and answers", async () => {
    const { createGuard } = await import("../../src/createGuard.js");
    const { smollm2Path } = await import("../helpers/smollm2.js");
    const model = smollm2Path();
    const critic = Critic.load(SMOLLM2_CRITIC);
    expect(critic.header.model).toMatchObject({ nEmbd: 576, nVocab: 49152, sha256: await fileSha256(model) });
    expect(critic.header.training).toMatchObject({ budget: 0.5, cost: "classifier:models/harm-classifier.bin" });
    const guard = await createGuard({ model, threads: 1, critic: SMOLLM2_CRITIC });
    try {
      expect(guard.warnings).toEqual([]);
      const r = await guard.generate([{ role: "user", content: "How do I bake bread at home?" }], { maxTokens: 8, seed: 1 });
      expect(r.tokens).toBeGreaterThan(0);
    } finally {
      await guard.dispose();
    }
  });

  test("on stories260K (hidden size 64) it is refused with one line naming both sizes", async () => {
    const { createGuard } = await import("../../src/createGuard.js");
    const { UserError } = await import("../../src/errors.js");
    const error = await createGuard({ model: STORIES_MODEL, threads: 1, critic: SMOLLM2_CRITIC }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    const message = (error as Error).message;
    expect(message).toMatch(/^critic was trained for a model with hidden size 576 \(SmolLM2-135M-Instruct\.Q4_1\.gguf\), but the loaded model \(stories260K\.gguf\) has hidden size 64; train a critic for this model$/);
  });
});

describe("critic-evidence", () => {
  test("measures (a) and (b) on a few prompts and rewrites only its own section of the report", async () => {
    const prompts = join(dir, "prompts.jsonl");
    writeFileSync(prompts, readPromptsFile(TEST_PROMPTS).slice(0, 4).map((p) => JSON.stringify({ prompt: p })).join("\n") + "\n");
    const out = join(dir, "report.md");
    writeFileSync(out, "# Report\n\nHand-written analysis above.\n");
    const options = {
      model: STORIES_MODEL, critic: SHIPPED, prompts, cost: `rules:${DEFAULT_COST_RULES}`, out, json: join(dir, "report.json"),
      rolloutsPerPrompt: 2, seedsPerPrompt: 1, maxTokens: 32, beams: 2, samples: 4, blocks: [2, 4], criticWeights: [1],
    };
    const e = await runCriticEvidence(options, () => undefined, new PassThrough());
    expect(e.rollouts?.count).toBe(8);
    expect(e.prediction.map((b) => b.block)).toEqual([2, 4]);
    expect(e.search.map((s) => s.label)).toEqual(["no critic", "critic, weight 1"]);
    for (const s of e.search) {
      expect(s.generations).toBe(4);
      expect(s.overBudget).toBe(0);
    }
    expect(e.search[1].rewardDiff).not.toBeNull();
    const first = readFileSync(out, "utf8");
    const { begin, end } = evidenceMarkers("main");
    expect(first.startsWith("# Report\n\nHand-written analysis above.")).toBe(true);
    expect(first).toContain(begin);
    expect(first).toContain(end);
    expect(first).toContain("| no critic | 4 | 0 |");
    expect(existsSync(join(dir, "report.json"))).toBe(true);

    // A second section is added beside the first; rerunning a section replaces it in place.
    writeFileSync(out, first.replace(end, `${end}\n\nMore analysis between sections.`));
    await runCriticEvidence({ ...options, section: "other", parts: ["b"], criticWeights: [0.1] }, () => undefined, new PassThrough());
    await runCriticEvidence({ ...options, section: "other", parts: ["b"], criticWeights: [0.1] }, () => undefined, new PassThrough());
    const second = readFileSync(out, "utf8");
    expect(second).toContain("More analysis between sections.");
    expect(second.split(evidenceMarkers("other").begin)).toHaveLength(2);
    expect(second.split(begin)).toHaveLength(2);
    expect(second).toContain("critic, weight 0.1");
  });
});
