// The training commands' flags (train-cost, train-critic, train-reward, critic-evidence; the shared
// vocabulary of src/cli/trainingFlags.ts): --help states the trainers' own defaults, the old names
// still work with a one-line notice, and a bad value is one line and exit 2, never a stack trace.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CRITIC_EVIDENCE_FLAGS, CRITIC_EVIDENCE_HELP } from "../../src/cli/criticEvidence.js";
import { readFlags, type FlagTable } from "../../src/cli/flagTable.js";
import { TRAIN_COST_FLAGS, TRAIN_COST_HELP, trainOptions } from "../../src/cli/trainCost.js";
import { TRAIN_CRITIC_FLAGS, TRAIN_CRITIC_HELP } from "../../src/cli/trainCritic.js";
import { TRAIN_REWARD_FLAGS, TRAIN_REWARD_HELP } from "../../src/cli/trainReward.js";
import { criticEvidenceOptionsSchema } from "../../src/critic/criticEvidence.js";
import { trainCriticOptionsSchema } from "../../src/critic/trainCritic.js";
import { DEFAULT_TRAIN_OPTIONS } from "../../src/cost/classifier/trainClassifier.js";
import { DEFAULT_PER_QUESTION } from "../../src/reward/rewardData.js";
import { TRAIN_HEAD_DEFAULTS } from "../../src/reward/trainHead.js";
import { cli } from "../helpers/cli.js";
import { statedDefaults } from "../helpers/helpText.js";
import { STORIES_MODEL } from "../helpers/models.js";

const dir = mkdtempSync(join(tmpdir(), "ig-training-flags-"));

/** Each flag's stated default is the library's: `expected` is written from the trainer's own defaults, not the table. */
function expectStated(help: string, expected: Record<string, unknown>): void {
  const stated = statedDefaults(help);
  for (const [flag, value] of Object.entries(expected)) {
    expect([flag, stated.get(flag)]).toEqual([flag, Array.isArray(value) ? value.join(",") : String(value)]);
  }
}

describe("--help states the trainer's own defaults", () => {
  test("train-cost: DEFAULT_TRAIN_OPTIONS, and with no flags the trainer gets exactly those", () => {
    const d = DEFAULT_TRAIN_OPTIONS;
    expectStated(TRAIN_COST_HELP, {
      "--data-dir": "../shared/data",
      "--xstest-holdout": d.xstestHoldout,
      "--validation-fraction": d.validationFraction,
      "--buckets": 2 ** d.bucketBits,
      "--word-ngrams": d.wordNgrams,
      "--char-ngrams": `${d.charMin}-${d.charMax}`,
      "--char-weight": d.charWeight,
      "--epochs": d.epochs,
      "--lr": d.lr,
      "--l2": d.l2,
      "--batch-size": d.batchSize,
      "--seed": d.seed,
      "--calibration": d.calibration,
    });
    expect(statedDefaults(TRAIN_COST_HELP).get("--mix")).toBe(Object.entries(d.mix).map(([s, w]) => `${s}=${w}`).join(","));
    const { values } = readFlags(TRAIN_COST_FLAGS, ["--out", "x.bin", "--data-dir", dir], () => {});
    expect(trainOptions(values)).toEqual({ ...d, dataDir: dir });
  });

  test("train-critic: trainCriticOptionsSchema's defaults (its own where they differ from the guard's)", () => {
    const o = trainCriticOptionsSchema.parse({ model: "m.gguf", cost: "rules:x.json", out: "c.bin" });
    expectStated(TRAIN_CRITIC_HELP, {
      "--budget": o.budget,
      "--rollouts-per-prompt": o.rolloutsPerPrompt,
      "--width": o.width,
      "--max-tokens": o.maxTokens,
      "--temperature": o.temperature,
      "--gamma": o.gamma,
      "--violation-penalty": o.violationPenalty,
      "--epochs": o.epochs,
      "--lr": o.lr,
      "--batch-size": o.batch,
      "--hidden": o.hidden,
      "--activation": o.activation,
      "--weight-decay": o.weightDecay,
      "--value-weight": o.valueWeight,
      "--safety-weight": o.safetyWeight,
      "--validation-fraction": o.validationFraction,
      "--seed": o.seed,
    });
  });

  test("train-reward: TRAIN_HEAD_DEFAULTS", () => {
    const d = TRAIN_HEAD_DEFAULTS;
    expectStated(TRAIN_REWARD_HELP, {
      "--data-dir": "../shared/data",
      "--per-question": DEFAULT_PER_QUESTION,
      "--max-examples": "all",
      "--max-answer-tokens": d.maxAnswerTokens,
      "--prefixes": d.prefixes,
      "--epochs": d.fit.epochs,
      "--lr": d.fit.learningRate,
      "--l2": d.fit.l2,
      "--validation-fraction": d.heldOutFraction,
      "--seed": d.seed,
      "--threads": d.threads,
    });
  });

  test("critic-evidence: criticEvidenceOptionsSchema's defaults", () => {
    const o = criticEvidenceOptionsSchema.parse({ model: "m.gguf", critic: "c.bin", prompts: "p.jsonl", cost: "rules:x.json", out: "o.md" });
    expectStated(CRITIC_EVIDENCE_HELP, {
      "--section": o.section,
      "--parts": o.parts,
      "--budget": o.budget,
      "--rollouts-per-prompt": o.rolloutsPerPrompt,
      "--blocks": o.blocks,
      "--seeds-per-prompt": o.seedsPerPrompt,
      "--weights": o.criticWeights,
      "--beams": o.beams,
      "--samples": o.samples,
      "--width": o.width,
      "--max-tokens": o.maxTokens,
      "--max-resamples": o.maxResamples,
      "--violation-penalty": o.violationPenalty,
      "--seed": o.seed,
    });
  });
});

describe("one vocabulary: the same flag names in every training command", () => {
  test.each([
    ["train-cost", TRAIN_COST_FLAGS],
    ["train-critic", TRAIN_CRITIC_FLAGS],
    ["train-reward", TRAIN_REWARD_FLAGS],
  ] as [string, FlagTable][])("%s takes --epochs, --lr and --validation-fraction, and no --batch, --held-out or --data of its own", (_name, table) => {
    for (const name of ["epochs", "lr", "validation-fraction"]) expect([name, table[name]?.metavar]).toEqual([name, expect.any(String)]);
    for (const old of ["batch", "held-out", "data", "val-fraction"]) expect(Object.keys(table)).not.toContain(old);
  });
});

describe("an old name still works, with a one-line notice", () => {
  const read = (table: FlagTable, argv: string[]) => {
    const notices: string[] = [];
    const { values } = readFlags(table, argv, (line) => notices.push(line));
    return { values: values as Record<string, unknown>, notices };
  };

  test.each([
    ["train-critic --batch", TRAIN_CRITIC_FLAGS, ["--out", "c.bin", "--cost", "rules:x.json", "--batch", "7"], "batch-size", 7, "--batch is now --batch-size"],
    ["train-reward --held-out", TRAIN_REWARD_FLAGS, ["--out", "h.json", "--held-out", "0.25"], "validation-fraction", 0.25, "--held-out is now --validation-fraction"],
    ["train-reward --data", TRAIN_REWARD_FLAGS, ["--out", "h.json", "--data", "/d"], "data-dir", "/d", "--data is now --data-dir"],
    ["train-cost --data", TRAIN_COST_FLAGS, ["--out", "x.bin", "--data", "/d"], "data-dir", "/d", "--data is now --data-dir"],
  ] as [string, FlagTable, string[], string, unknown, string][])("%s", (_label, table, argv, name, value, notice) => {
    const r = read(table, argv);
    expect(r.values[name]).toEqual(value);
    expect(r.notices).toEqual([`${notice} (the old name still works for now)`]);
  });

  test("on the command line: the notice, then the old name's value reaches the new flag", async () => {
    const nowhere = join(dir, "nowhere");
    const cost = await cli("train-cost", "--out", join(dir, "x.bin"), "--data", nowhere);
    expect(cost.code).toBe(2);
    expect(cost.err.trim().split("\n")).toEqual([
      "inference-guard train-cost: --data is now --data-dir (the old name still works for now)",
      expect.stringMatching(`^inference-guard: data folder not found: ${nowhere} `),
    ]);
    const reward = await cli("train-reward", "--out", join(dir, "h.json"), "--model", STORIES_MODEL, "--held-out", "0.7");
    expect([reward.code, reward.err.trim().split("\n")]).toEqual([
      2,
      ["inference-guard train-reward: --held-out is now --validation-fraction (the old name still works for now)", "inference-guard: --validation-fraction must be in (0, 0.5), got 0.7"],
    ]);
    const critic = await cli("train-critic", "--out", join(dir, "c.bin"), "--cost", "rules:x.json", "--batch", "0");
    expect([critic.code, critic.err.trim().split("\n")]).toEqual([
      2,
      ["inference-guard train-critic: --batch is now --batch-size (the old name still works for now)", "inference-guard: --batch-size must be at least 1"],
    ]);
  });

  test("the old and the new name at once is a one-line mistake", async () => {
    const r = await cli("train-critic", "--out", join(dir, "c.bin"), "--cost", "rules:x.json", "--batch", "8", "--batch-size", "16");
    expect([r.code, r.err.trim()]).toEqual([2, "inference-guard: --batch is the old name of --batch-size: give one of them"]);
  });
});

describe("a bad value is one line on stderr and exit 2, no stack trace", () => {
  test.each([
    [["train-cost", "--out", "x.bin", "--epochs", "1.5"], "--epochs expects an integer, got \"1.5\""],
    [["train-cost", "--out", "x.bin", "--validation-fraction", "0.5"], "--validation-fraction must be in (0, 0.5), got 0.5"],
    [["train-cost", "--out", "x.bin", "--lr", "0"], "--lr must be > 0, got 0"],
    [["train-critic", "--out", "c.bin", "--cost", "rules:x.json", "--batch-size", "many"], "--batch-size expects an integer, got \"many\""],
    [["train-critic", "--out", "c.bin", "--cost", "rules:x.json", "--activation", "sigmoid"], "--activation must be one of relu, tanh, gelu, silu; got \"sigmoid\""],
    [["train-reward", "--out", "h.json", "--l2", "-1"], "--l2 must be >= 0, got -1"],
    [["train-reward", "--out", "h.json", "--prefixes", "8,x"], "--prefixes takes whole numbers >= 1 separated by commas, got \"8,x\""],
    [["train-reward", "--out", "h.json", "--seed", "-3"], "--seed must be at least 0"],
    [["critic-evidence", "--critic", "c.bin", "--prompts", "p.jsonl", "--cost", "rules:x.json", "--out", "o.md", "--weights", "1,x"], "--weights expects comma-separated positive numbers, got \"1,x\""],
    [["critic-evidence", "--critic", "c.bin", "--prompts", "p.jsonl", "--cost", "rules:x.json", "--out", "o.md", "--parts", "c"], "--parts expects a, b or a,b; got \"c\""],
    [["critic-evidence", "--prompts", "p.jsonl"], "--critic FILE is required (see --help)"],
    [["train-reward", "--bogus"], "Unknown option '--bogus' (see --help)"],
  ])("%j", async (argv, message) => {
    const r = await cli(...argv);
    expect([r.code, r.out, r.err]).toEqual([2, "", `inference-guard: ${message}\n`]);
  });
});
