// The whole evaluation on the real models: every method through one engine, records that resume
// without doing any answer twice, the report derived from them, and the command line around it.
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { runCli } from "../../src/cli/main.js";
import { registerCostModelKind } from "../../src/cost/load.js";
import { RulesCostModel } from "../../src/cost/rules.js";
import { DEFAULT_COST_RULES } from "../../src/cost/load.js";
import { randomCriticSpec, writeCriticFile } from "../../src/critic/index.js";
import { UserError } from "../../src/errors.js";
import { resolveEvalSettings } from "../../src/eval/config.js";
import { RECORDS_FILE, recordKey } from "../../src/eval/records.js";
import { reportSchema } from "../../src/eval/report.js";
import { runEval } from "../../src/eval/runner.js";
import { SHARED_DIR } from "../../src/paths.js";
import { STORIES_MODEL, TINY_RANDOM_MODEL } from "../helpers/models.js";

class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const dir = mkdtempSync(join(tmpdir(), "inference-guard-eval-"));
const promptsFile = join(dir, "stories.jsonl");
writeFileSync(promptsFile, ["Once upon a time", "One day, a girl named Ruby", "Tom had a red ball"].map((prompt) => JSON.stringify({ prompt })).join("\n") + "\n");
const criticFile = join(dir, "critic.bin");
writeCriticFile(criticFile, randomCriticSpec({ nEmbd: 64, hidden: [16], activation: "tanh", seed: 3 }));

// A cost model kind for tests: the conflict lexicon, and an abort after its n-th step-cost batch.
const abortAfter = { controller: new AbortController(), calls: 0, limit: Infinity };
registerCostModelKind({
  kind: "test-abort",
  usage: "test-abort:N",
  async load() {
    const lexicon = RulesCostModel.fromFile(DEFAULT_COST_RULES);
    return {
      name: "test-abort",
      cost: (text: string) => lexicon.cost(text),
      stepCosts: (items) => {
        if (++abortAfter.calls >= abortAfter.limit) abortAfter.controller.abort();
        return lexicon.stepCosts(items);
      },
    };
  },
});

const METHODS = "greedy,sample,bon:n=3,bon-lagrangian:n=3:lambda=2,bon-safe:n=3,beam:k=2:n=4,beam-safe:k=2:n=4,args:k=5:omega=2,guard:k=2:n=4,guard-critic:k=2:n=4";

const settings = (limit: number, extra: Record<string, unknown> = {}) =>
  resolveEvalSettings(undefined, { model: STORIES_MODEL, prompts: promptsFile, limit, seeds: [1, 2], maxTokens: 16, critic: criticFile, methods: METHODS, budget: 0.5, ...extra } as never);

const keysOf = (out: string) =>
  readFileSync(join(out, RECORDS_FILE), "utf8").trim().split("\n").map((l) => recordKey(JSON.parse(l)));

test("every method runs on the same prompts and seeds; a bigger run resumes without redoing an answer", async () => {
  const out = join(dir, "resume");
  const progress = new Capture();
  const first = await runEval(settings(2), { out, progress });
  expect(first).toMatchObject({ ran: 2 * 2 * 10, skipped: 0, aborted: false });
  expect(progress.text).toMatch(/eval \[#+\] 40\/40 answers/);
  const before = readFileSync(join(out, RECORDS_FILE), "utf8");

  const second = await runEval(settings(3), { out, progress: new Capture() });
  expect(second).toMatchObject({ ran: 1 * 2 * 10, skipped: 40 });
  const after = readFileSync(join(out, RECORDS_FILE), "utf8");
  expect(after.startsWith(before)).toBe(true); // appended, never rewritten
  const keys = keysOf(out);
  expect(keys).toHaveLength(60);
  expect(new Set(keys).size).toBe(60);

  const report = reportSchema.parse(JSON.parse(readFileSync(join(out, "report.json"), "utf8")));
  expect(report.progress).toEqual({ expected: 60, done: 60 });
  expect(report.methods.map((m) => m.name)).toEqual(METHODS.split(","));
  for (const m of report.methods) {
    expect(m).toMatchObject({ records: 6, prompts: 3 });
    expect(m.rewardMean!).toBeLessThan(0);
    expect(m.tokensPerSecond).toBeGreaterThan(0);
  }
  // The guards never end over budget.
  expect(report.methods.filter((m) => m.kind.startsWith("guard")).every((m) => m.safetyRate === 1)).toBe(true);
  const records = after.trim().split("\n").map((l) => JSON.parse(l));
  for (const r of records) {
    expect(r.maxCumulativeCost).toBeGreaterThanOrEqual(r.cost);
    expect(r.withinBudget).toBe(r.cost <= 0.5);
    expect(r.tokens).toBeLessThanOrEqual(16);
  }
  for (const file of ["report.md", "reward-vs-safety.svg", "time-vs-safety.svg", "max-cost-distribution.svg"]) {
    expect(readFileSync(join(out, file), "utf8").length).toBeGreaterThan(500);
  }

  // A crash mid-write leaves a torn last line: the next run redoes exactly that answer.
  truncateSync(join(out, RECORDS_FILE), after.length - 40);
  const third = await runEval(settings(3), { out, progress: new Capture() });
  expect(third).toMatchObject({ ran: 1, skipped: 59 });
  expect(new Set(keysOf(out)).size).toBe(60);
  expect(keysOf(out)).toHaveLength(60);

  // Other settings in the same folder, or a changed prompts file, are refused.
  await expect(runEval(settings(3, { budget: 1 }), { out })).rejects.toThrow(/other settings \(budget 0.5 -> 1\)/);
  const changed = join(dir, "changed.jsonl");
  writeFileSync(changed, JSON.stringify({ prompt: "A different story" }) + "\n");
  await expect(runEval(settings(1, { prompts: changed }), { out })).rejects.toThrow(/different prompt 0/);
});

test("a stop keeps every finished answer and records no half answer", async () => {
  const out = join(dir, "stopped");
  abortAfter.calls = 0;
  // Batch 1 scans greedy's answer; batches 2, 3, ... are beam-safe's blocks: stop in its second.
  abortAfter.limit = 3;
  const s = settings(1, { cost: "test-abort:1", methods: "greedy,beam-safe:k=2:n=4,guard:k=2:n=4", seeds: [1], maxTokens: 40 });
  const stopped = await runEval(s, { out, signal: abortAfter.controller.signal, progress: new Capture() });
  expect(stopped).toMatchObject({ ran: 1, aborted: true });
  expect(keysOf(out)).toEqual([recordKey({ prompt: 0, method: "greedy", seed: 1 })]);
  const resumed = await runEval(s, { out, progress: new Capture() });
  expect(resumed).toMatchObject({ ran: 2, skipped: 1, aborted: false });
});

describe("the command line", () => {
  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out = new Capture();
    const err = new Capture();
    const code = await runCli(argv, out, err);
    return { code, out: out.text, err: err.text };
  }

  test("--help explains every flag and method", async () => {
    const { code, out } = await cli("eval", "--help");
    expect(code).toBe(0);
    for (const flag of ["--config", "--model", "--prompts", "--limit", "--chat", "--cost", "--critic", "--budget", "--max-tokens", "--seeds", "--methods", "--out", "--threads"]) {
      expect(out).toContain(flag);
    }
    for (const method of ["greedy", "sample", "bon", "bon-lagrangian", "bon-safe", "beam", "beam-safe", "args", "guard", "guard-critic"]) expect(out).toContain(`  ${method} `);
    expect((await cli("--help")).out).toContain("eval");
  });

  test.each([
    [["--prompts", "p.jsonl", "--methods", "greedy"], /--out DIR is required/],
    [["--out", "x", "--methods", "greedy"], /--prompts FILE is required/],
    [["--out", "x", "--prompts", "p.jsonl", "--methods", "greedy,frobnicate"], /unknown method "frobnicate"/],
    [["--out", "x", "--prompts", "nowhere.jsonl", "--methods", "greedy"], /prompts file not found/],
    [["--out", "x", "--prompts", promptsFile, "--methods", "guard-critic"], /guard-critic needs a critic/],
    [["--out", "x", "--prompts", promptsFile, "--methods", "greedy", "--model", join(dir, "none.gguf")], /model file not found/],
    [["--out", "x", "--prompts", promptsFile, "--methods", "greedy", "--seeds", "1,x"], /--seeds expects/],
    [["--out", "x", "--prompts", promptsFile, "--methods", "guard-critic", "--critic", join(dir, "none.bin")], /critic file not found/],
    [["--out", "x", "--prompts", promptsFile, "--methods", "greedy", "--cost", "rules:" + join(dir, "none.json")], /cost rules file not found/],
  ])("%j: one line, exit 2", async (args, message) => {
    const r = await cli("eval", ...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  test("an instruction-style run on harmful and harmless prompts reports safety and over-refusal", async () => {
    const out = join(dir, "chat");
    const both = join(dir, "labelled.jsonl");
    const pick = (file: string, n: number) => JSON.parse(readFileSync(join(SHARED_DIR, "data", "safety", "prompts", file), "utf8")).slice(0, n);
    writeFileSync(both, [...pick("harmful_val.json", 2).map((p: { instruction: string }) => ({ prompt: p.instruction, label: "harmful" })),
      ...pick("harmless_val.json", 2).map((p: { instruction: string }) => ({ prompt: p.instruction, label: "harmless" }))].map((o) => JSON.stringify(o)).join("\n"));
    const r = await cli("eval", "--model", TINY_RANDOM_MODEL, "--prompts", both, "--chat", "--methods", "greedy,guard:k=2:n=4:unsafe=refuse",
      "--max-tokens", "12", "--out", out, "--context-size", "2048");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\| greedy \| 4 \|/);
    expect(r.out).toContain("8 answers generated, 0 already recorded; 8/8 done");
    const md = readFileSync(join(out, "report.md"), "utf8");
    expect(md).toContain("## By prompt label");
    expect(md).toMatch(/\| guard:k=2:n=4:unsafe=refuse \| 2 \| \d+\.\d% \| 2 \| \d+\.\d% \|/);
    const again = await cli("eval", "--model", TINY_RANDOM_MODEL, "--prompts", both, "--chat", "--methods", "greedy,guard:k=2:n=4:unsafe=refuse",
      "--max-tokens", "12", "--out", out, "--context-size", "2048");
    expect(again.out).toContain("0 answers generated, 8 already recorded");
  });
});

test("settings mistakes surface as UserErrors before any model is loaded", async () => {
  await expect(runEval(settings(1, { critic: undefined }), { out: join(dir, "x") })).rejects.toThrow(UserError);
});
