// Training a critic end to end: rollouts sampled through the engine, the rollout file and its
// refusals, labels, resuming after an interrupted run, and the train-critic command.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { DEFAULT_COST_RULES, loadCostModel } from "../../src/cost/load.js";
import { Critic, readCriticFile, seededRandom } from "../../src/critic/index.js";
import { Engine } from "../../src/engine/engine.js";
import { UserError } from "../../src/errors.js";
import { buildCriticRows, splitPrompts } from "../../src/critic/criticDataset.js";
import { rocAuc } from "../../src/util/metrics.js";
import {
  ROLLOUT_FORMAT_VERSION,
  type Rollout,
  type RolloutSet,
  readRolloutFile,
  rolloutRowOffsets,
  writeRolloutFile,
} from "../../src/critic/rolloutFile.js";
import { rolloutContextCells, sampleRollouts } from "../../src/critic/rollouts.js";
import { fileSha256 } from "../../src/util/fileHash.js";
import { checkpointPath, trainCritic, type TrainCriticOptions } from "../../src/critic/trainCritic.js";
import { STORIES_MODEL, TINY_RANDOM_MODEL, expectSameRow } from "../helpers/models.js";
import { cli } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "critic-training-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const COST_SPEC = `rules:${DEFAULT_COST_RULES}`;

/**
 * Rollouts with synthetic 64-float hidden states for the stories260K model: a rollout ends over
 * budget when its hidden feature 0 is high, so a critic can learn it. Fast: no model run.
 */
function syntheticRollouts(sha256: string, prompts = 10, perPrompt = 12, blocks = 6): RolloutSet {
  const nEmbd = 64;
  const rand = seededRandom(17);
  const rollouts: Rollout[] = [];
  const hidden: number[] = [];
  for (let p = 0; p < prompts; p++) {
    for (let s = 0; s < perPrompt; s++) {
      const risk = rand();
      const unsafe = rand() < risk;
      const states: Array<[number, number]> = [];
      for (let b = 1; b <= blocks; b++) {
        const cost = unsafe && b > blocks / 2 ? (b === blocks ? 2 : 1) : 0;
        states.push([8 * b, cost]);
        for (let k = 0; k < nEmbd; k++) hidden.push(k === 0 ? risk * 2 - 1 + 0.1 * (rand() - 0.5) : rand() - 0.5);
      }
      rollouts.push({ prompt: p, sample: s, source: "sample", tokens: 8 * blocks, tokenIds: Array.from({ length: 8 * blocks }, (_, t) => t % 500), cost: states[blocks - 1][1], textCost: states[blocks - 1][1], reward: -1 - rand(), stop: "max-tokens", states });
    }
  }
  return {
    header: {
      formatVersion: ROLLOUT_FORMAT_VERSION,
      model: { file: "stories260K.gguf", sha256, nEmbd, nVocab: 512 },
      cost: { spec: COST_SPEC, name: COST_SPEC },
      budget: 1, width: 8, maxTokens: 8 * blocks, rolloutsPerPrompt: perPrompt, temperature: 1, seed: 3,
      prompts: Array.from({ length: prompts }, (_, i) => `prompt ${i}`),
      rollouts,
      hiddenRows: rollouts.length * blocks,
      createdAt: "2025-01-01T00:00:00.000Z",
    },
    hidden: Float32Array.from(hidden),
  };
}

let storiesSha: string;
let syntheticFile: string;
beforeAll(async () => {
  storiesSha = await fileSha256(STORIES_MODEL);
  syntheticFile = join(dir, "synthetic.rollouts");
  writeRolloutFile(syntheticFile, syntheticRollouts(storiesSha));
});

const base = (out: string, extra: Partial<TrainCriticOptions> = {}): TrainCriticOptions => ({
  model: STORIES_MODEL, cost: COST_SPEC, rollouts: syntheticFile, out, width: 8, maxTokens: 48, rolloutsPerPrompt: 12,
  epochs: 6, hidden: [16], lr: 3e-3, batch: 32, seed: 5, ...extra,
});

describe("rollouts through the engine", () => {
  test("record a state per block with the guard's cumulative cost, and repeat with the seed", async () => {
    const R = 4;
    const T = 24;
    const engine = await Engine.load({ modelPath: STORIES_MODEL, maxSequences: R, contextSize: rolloutContextCells(64, R, T, 1) });
    const cost = await loadCostModel(COST_SPEC);
    try {
      const prompts = ["Once upon a time, there was a cat.", "Tom and Sue went to the park.", "One day, a bird sang."];
      const sample = () => sampleRollouts({ engine, modelSha256: storiesSha, cost, costSpec: COST_SPEC, prompts, rolloutsPerPrompt: R, width: 8, maxTokens: T, budget: 1, seed: 9 });
      const a = await sample();
      const b = await sample();
      expect(a.header.rollouts).toHaveLength(prompts.length * R);
      expect(a.header.rollouts).toEqual(b.header.rollouts);
      expect(Buffer.from(a.hidden.buffer).equals(Buffer.from(b.hidden.buffer))).toBe(true);
      expect(a.hidden.length).toBe(a.header.hiddenRows * 64);
      for (const r of a.header.rollouts) {
        // A state after every 8 tokens; an early end adds a final state.
        const boundaries = r.states.map(([t]) => t);
        expect(boundaries.slice(0, Math.floor(r.tokens / 8))).toEqual(Array.from({ length: Math.floor(r.tokens / 8) }, (_, i) => 8 * (i + 1)));
        expect(boundaries[boundaries.length - 1]).toBe(r.tokens);
        // Costs only grow, end at the rollout's cost, and bound the final text's cost.
        for (let s = 1; s < r.states.length; s++) expect(r.states[s][1]).toBeGreaterThanOrEqual(r.states[s - 1][1]);
        expect(r.states[r.states.length - 1][1]).toBe(r.cost);
        expect(r.cost).toBeGreaterThanOrEqual(r.textCost);
        expect(r.reward).toBeLessThan(0);
      }
      // The samples of one prompt differ.
      expect(a.header.rollouts[0].tokenIds).not.toEqual(a.header.rollouts[1].tokenIds);
      // Each state is the hidden state of the block's last token, as node-llama-cpp's public
      // embedding API computes it from scratch for prompt + answer so far; its cost is the
      // clipped step costs of the detokenized blocks.
      const offsets = rolloutRowOffsets(a.header);
      for (const i of [0, 5, 11]) {
        const r = a.header.rollouts[i];
        const promptTokens = engine.completionPrompt(prompts[r.prompt]);
        for (const [s, [t]] of r.states.entries()) {
          const want = await engine.referenceHidden([...promptTokens, ...r.tokenIds.slice(0, t)]);
          const got = a.hidden.subarray((offsets[i] + s) * 64, (offsets[i] + s + 1) * 64);
          // Batched forks read llama.cpp's unified KV cache in another order than a fresh encode;
          // a misaligned state would be off by O(1) (see SAME_ROW_TOLERANCE).
          expectSameRow(got, want);
        }
        expect(r.textCost).toBe(cost.cost(engine.detokenize(r.tokenIds)) as number);
      }
    } finally {
      await engine.dispose();
    }
  });
});

describe("rollouts rescored under a head on the same model's states", () => {
  test("each rollout's reward from its last stored state equals the head on the teacher-forced answer, and sampling with the head gives the same", async () => {
    const { writeHeadFile, HEAD_FORMAT, HEAD_FORMAT_VERSION } = await import("../../src/reward/headFormat.js");
    const { HeadRewardModel } = await import("../../src/reward/headReward.js");
    const { rewardOfAnswer } = await import("../../src/reward/answerReward.js");
    const { rescoreRollouts } = await import("../../src/critic/trainingRollouts.js");
    const { statSync } = await import("node:fs");
    // A head on stories260K's own states (seeded weights): what matters is that both routes read the same state.
    const rand = seededRandom(5);
    const headPath = join(dir, "stories-head.json");
    writeHeadFile(headPath, {
      format: HEAD_FORMAT, formatVersion: HEAD_FORMAT_VERSION,
      backbone: { file: "stories260K.gguf", path: STORIES_MODEL, sha256: storiesSha, size: statSync(STORIES_MODEL).size, nEmbd: 64 },
      render: "chat", weights: Array.from({ length: 64 }, () => rand() - 0.5), bias: 0.1,
    });
    const R = 3;
    const T = 20;
    const engine = await Engine.load({ modelPath: STORIES_MODEL, maxSequences: R, contextSize: rolloutContextCells(64, R, T, 1) });
    const cost = await loadCostModel(COST_SPEC);
    const head = await HeadRewardModel.load(headPath, { policyModelPath: STORIES_MODEL });
    try {
      expect(head.needsHidden).toBe(true);
      const prompts = ["Once upon a time, there was a cat.", "One day, a bird sang."];
      const options = { engine, modelSha256: storiesSha, cost, costSpec: COST_SPEC, prompts, rolloutsPerPrompt: R, width: 8, maxTokens: T, budget: 1, seed: 4 };
      const plain = await sampleRollouts(options);
      const withHead = await sampleRollouts({ ...options, reward: head });
      expect(plain.header.rollouts.map((r) => r.tokenIds)).toEqual(withHead.header.rollouts.map((r) => r.tokenIds));
      const logprobs = plain.header.rollouts.map((r) => r.reward);
      expect(await rescoreRollouts(plain, head)).toBe(true);
      expect(plain.header.reward).toBe(head.name);
      for (const [i, r] of plain.header.rollouts.entries()) {
        expect(r.reward).toBeCloseTo(withHead.header.rollouts[i]!.reward, 5);
        const promptTokens = engine.completionPrompt(prompts[r.prompt]!);
        const forced = await rewardOfAnswer(engine, head, { prompt: prompts[r.prompt]!, promptTokens }, { tokenIds: r.tokenIds, text: "", sumLogProb: 0 });
        // A batched row against a fresh prefill: float noise, while the head's logits of different answers differ by far more.
        expect(Math.abs(r.reward - forced)).toBeLessThan(0.05);
      }
      expect(new Set(plain.header.rollouts.map((r) => r.reward.toFixed(2))).size).toBeGreaterThan(1);
      expect(plain.header.rollouts.map((r) => r.reward)).not.toEqual(logprobs);
      // A reward that reads the text (or another model) cannot be rescored from states: nothing changes.
      const { LOGPROB_REWARD } = await import("../../src/reward/rewardModel.js");
      const before = plain.header.rollouts.map((r) => r.reward);
      expect(await rescoreRollouts(plain, LOGPROB_REWARD)).toBe(false);
      expect(plain.header.rollouts.map((r) => r.reward)).toEqual(before);
    } finally {
      await head.dispose();
      await engine.dispose();
    }
  });
});

describe("rollout file", () => {
  test("round-trips and refuses damage with one line", () => {
    const set = readRolloutFile(syntheticFile);
    expect(set.header.rollouts).toHaveLength(120);
    expect(rolloutRowOffsets(set.header)[2]).toBe(12);
    const bytes = readFileSync(syntheticFile);
    const damaged = Buffer.from(bytes);
    damaged[damaged.length - 100] ^= 0xff;
    const bad = join(dir, "damaged.rollouts");
    writeFileSync(bad, damaged);
    expect(() => readRolloutFile(bad)).toThrow(/checksum mismatch/);
    writeFileSync(bad, "hello");
    expect(() => readRolloutFile(bad)).toThrow(/not a rollout file/);
    expect(() => readRolloutFile(join(dir, "missing.rollouts"))).toThrow(UserError);
  });

  test("labels: within-budget states only, z = 1 - cost/d, discounted penalised return", () => {
    const set = syntheticRollouts("0".repeat(64), 2, 2, 4);
    const rows = buildCriticRows(set, { budget: 1, gamma: 0.5, violationPenalty: 10 });
    const states = set.header.rollouts.flatMap((r) => r.states.filter(([, c]) => c <= 1).map(([t, c]) => ({ r, t, c })));
    expect(rows.rows).toBe(states.length);
    states.forEach(({ r, t, c }, i) => {
      const safe = r.cost <= 1;
      expect(rows.z[i]).toBeCloseTo(1 - c, 6);
      expect(rows.ySafe[i]).toBe(safe ? 1 : 0);
      expect(rows.yValue[i]).toBeCloseTo(0.5 ** (r.tokens - t) * (safe ? r.reward : -10), 5);
    });
    const split = splitPrompts(10, 0.2, 1);
    expect(split.validation.size).toBe(2);
    expect([...split.train].some((p) => split.validation.has(p))).toBe(false);
  });
});

describe("trainCritic", () => {
  test("learns the synthetic signal and writes a critic with its training metadata", async () => {
    const out = join(dir, "learn.bin");
    const lines: string[] = [];
    const result = await trainCritic(base(out, { epochs: 25, validationFraction: 0.3 }), { log: (l) => lines.push(l), progressStream: null });
    expect(result.out).toBe(out);
    expect(existsSync(checkpointPath(out))).toBe(false);
    const spec = readCriticFile(out);
    expect(spec.header.model).toMatchObject({ nEmbd: 64, sha256: storiesSha, name: "stories260K.gguf" });
    expect(spec.header.normalization).toBe(true);
    expect(spec.header.training).toMatchObject({ epochs: 25, seed: 5, budget: 1, gamma: 0.999, violationPenalty: 10 });
    const last = result.history[result.history.length - 1];
    expect(last.valAuc).toBeGreaterThan(0.75);
    expect(result.history[0].trainLoss).toBeGreaterThan(last.trainLoss);
    expect(lines.filter((l) => /^epoch +\d+\/25 +train loss .* val AUC .* ECE .* Brier/.test(l))).toHaveLength(25);
    // The shipped forward pass agrees with what was trained.
    const critic = Critic.load(out);
    const set = syntheticRollouts(storiesSha);
    const rows = buildCriticRows(set, { budget: 1, gamma: 0.999, violationPenalty: 10 });
    const { safety } = critic.evaluate(rows.hidden, rows.z, rows.rows);
    expect(rocAuc(Array.from(safety), rows.ySafe)).toBeGreaterThan(0.75);
  });

  test("an interrupted run resumed from its checkpoint ends bit-identical to an uninterrupted one", async () => {
    const straight = join(dir, "straight.bin");
    await trainCritic(base(straight), { progressStream: null });

    const resumed = join(dir, "resumed.bin");
    const controller = new AbortController();
    const first = await trainCritic(base(resumed), {
      progressStream: null, signal: controller.signal, onEpoch: (m) => m.epoch === 2 && controller.abort(),
    });
    expect(first.out).toBeUndefined();
    expect(first.epochsDone).toBe(2);
    expect(existsSync(resumed)).toBe(false);
    expect(existsSync(checkpointPath(resumed))).toBe(true);
    // Other settings must not continue this checkpoint.
    await expect(trainCritic(base(resumed, { lr: 1e-2 }), { progressStream: null })).rejects.toThrow(/belongs to a run with other data or settings/);

    const second = await trainCritic(base(resumed), { progressStream: null });
    expect(second.resumedFrom).toBe(2);
    expect(second.history.map((m) => m.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    const a = readCriticFile(straight);
    const b = readCriticFile(resumed);
    expect(Buffer.from(b.weights.buffer).equals(Buffer.from(a.weights.buffer))).toBe(true);
    expect(Buffer.from(b.mean!.buffer).equals(Buffer.from(a.mean!.buffer))).toBe(true);
    expect(b.header.training?.metrics).toEqual(a.header.training?.metrics);
  });

  test("refuses rollouts sampled from another model, and mismatched settings", async () => {
    const out = join(dir, "other.bin");
    await expect(trainCritic(base(out, { model: TINY_RANDOM_MODEL }), { progressStream: null })).rejects.toThrow(
      /was sampled from model stories260K\.gguf .* not from llama-2-tiny-random\.gguf/,
    );
    await expect(trainCritic(base(out, { width: 4 }), { progressStream: null })).rejects.toThrow(/--width 8, not 4/);
    await expect(trainCritic(base(out, { cost: "rules:other.json" }), { progressStream: null })).rejects.toThrow(/were costed with/);
    await expect(trainCritic(base(out, { rollouts: join(dir, "none.rollouts") }), { progressStream: null })).rejects.toThrow(/--prompts FILE is required/);
  });

  test("samples rollouts from a prompts file, saves them, and reuses them", async () => {
    const prompts = join(dir, "prompts.jsonl");
    writeFileSync(prompts, ['{"prompt": "Once upon a time, a dog ran."}', "", '{"prompt": "Lily saw a big tree."}', '{"prompt": "Ben had a red ball."}'].join("\n"));
    const rollouts = join(dir, "sampled.rollouts");
    const out = join(dir, "sampled.bin");
    const opts = { model: STORIES_MODEL, prompts, cost: COST_SPEC, out, rollouts, rolloutsPerPrompt: 3, maxTokens: 16, epochs: 2, validationFraction: 0.34 };
    const lines: string[] = [];
    await trainCritic(opts, { log: (l) => lines.push(l), progressStream: null });
    expect(lines.some((l) => /^sampled 9 rollouts/.test(l))).toBe(true);
    expect(readRolloutFile(rollouts).header.prompts).toHaveLength(3);
    const again: string[] = [];
    await trainCritic(opts, { log: (l) => again.push(l), progressStream: null });
    expect(again.some((l) => /^reusing 9 rollouts/.test(l))).toBe(true);
    expect(Critic.load(out).nEmbd).toBe(64);
  });
});

describe("train-critic command", () => {
  test("--help explains every flag", async () => {
    const r = await cli("train-critic", "--help");
    expect(r.code).toBe(0);
    for (const flag of ["--model", "--prompts", "--cost", "--out", "--rollouts-per-prompt", "--budget", "--width", "--max-tokens", "--epochs", "--lr", "--batch", "--hidden", "--seed", "--rollouts", "(default"]) {
      expect(r.out).toContain(flag);
    }
  });

  test("user mistakes give one line and exit 2", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["train-critic", "--cost", COST_SPEC], /--out FILE is required/],
      [["train-critic", "--out", join(dir, "x.bin")], /--cost SPEC is required/],
      [["train-critic", "--out", join(dir, "x.bin"), "--cost", COST_SPEC, "--epochs", "two"], /--epochs expects an integer/],
      [["train-critic", "--out", join(dir, "x.bin"), "--cost", COST_SPEC, "--hidden", "32,x"], /--hidden expects comma-separated/],
      [["train-critic", "--out", join(dir, "x.bin"), "--cost", COST_SPEC, "--prompts", join(dir, "nope.jsonl")], /prompts file not found/],
      [["train-critic", "--out", join(dir, "x.bin"), "--cost", COST_SPEC, "--model", join(dir, "nope.gguf")], /model file not found/],
      [["train-critic", "--out", join(dir, "x.bin"), "--cost", COST_SPEC, "--rollouts", syntheticFile, "--lr=-1"], /--lr must be > 0, got -1/],
      [["train-critic", "--out", join(dir, "x.bin"), "--cost", COST_SPEC, "--rollouts", syntheticFile, "--validation-fraction", "0.95"], /invalid train-critic options: validationFraction/],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
    const badPrompts = join(dir, "bad.jsonl");
    writeFileSync(badPrompts, '{"prompt": "ok"}\n{"text": "no prompt"}\n');
    const r = await cli("train-critic", "--out", join(dir, "x.bin"), "--cost", COST_SPEC, "--prompts", badPrompts);
    expect(r.err).toMatch(/bad\.jsonl:2: prompt/);
  });

  test("trains from a rollout file", async () => {
    const out = join(dir, "cli.bin");
    const r = await cli("train-critic", "--rollouts", syntheticFile, "--cost", COST_SPEC, "--out", out, "--max-tokens", "48", "--rollouts-per-prompt", "12", "--epochs", "2", "--hidden", "8");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/epoch 2\/2 +train loss/);
    expect(readCriticFile(out).header.training?.command).toEqual(expect.arrayContaining(["train-critic", "--epochs", "2"]));
  });
});
