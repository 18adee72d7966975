// The long-running training and evaluation commands under SIGTERM (issue 20): each exits within a
// bound, keeps what it wrote whole, and says why in one line.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { STORIES_MODEL } from "../helpers/models.js";

const BIN = join(PACKAGE_ROOT, "bin", "inference-guard.js");
const MODEL = join(PACKAGE_ROOT, "models", "testbed", "tiny-assistant.gguf");

/** Runs the CLI, sends SIGTERM once `ready()` holds, and reports how it ended. */
function stopWhen(args: string[], ready: (stderr: string) => boolean): Promise<{ code: number | null; stderr: string; afterSignalMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let signalledAt = 0;
    const poll = setInterval(() => {
      if (signalledAt === 0 && ready(stderr)) {
        signalledAt = Date.now();
        child.kill("SIGTERM");
      }
    }, 100);
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      clearInterval(poll);
      resolve({ code, stderr, afterSignalMs: signalledAt === 0 ? -1 : Date.now() - signalledAt });
    });
  });
}

test("eval: SIGTERM stops after the answer in progress, every recorded line whole, and says how to go on", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ig-eval-stop-"));
  const prompts = join(dir, "p.jsonl");
  writeFileSync(prompts, Array.from({ length: 60 }, (_, i) => JSON.stringify({ prompt: `Once upon a time ${i}` })).join("\n") + "\n");
  const out = join(dir, "out");
  const r = await stopWhen(
    ["eval", "--model", STORIES_MODEL, "--prompts", prompts, "--methods", "guard,sample", "--max-tokens", "100", "--threads", "1", "--out", out],
    () => existsSync(join(out, "records.jsonl")) && readFileSync(join(out, "records.jsonl"), "utf8").split("\n").length > 3,
  );
  expect(r.afterSignalMs).toBeGreaterThanOrEqual(0);
  expect(r.afterSignalMs).toBeLessThan(30_000);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/stopping after this answer \(run the same command again to continue\)/);
  const lines = readFileSync(join(out, "records.jsonl"), "utf8").split("\n").filter((l) => l !== "");
  for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  expect(lines.length).toBeLessThan(120);
}, 120_000);

test("train-reward: SIGTERM stops the feature pass, writes nothing, and says so in one line", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ig-reward-stop-"));
  const out = join(dir, "head.json");
  const r = await stopWhen(["train-reward", "--model", MODEL, "--out", out, "--threads", "1"], (stderr) => /train-reward features/.test(stderr));
  expect(r.afterSignalMs).toBeGreaterThanOrEqual(0);
  expect(r.afterSignalMs).toBeLessThan(30_000);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/train-reward was stopped before it finished; nothing was written/);
  expect(existsSync(out)).toBe(false);
}, 120_000);

/** The stop's own line, once, last, and no stack trace (progress lines may come before it). */
function expectOneStopLine(stderr: string, line: string): void {
  expect(stderr.split(line).length - 1).toBe(1);
  expect(stderr.trim().split("\n").at(-1)).toBe(`inference-guard: ${line}`);
  expect(stderr).not.toMatch(/\n\s+at /);
}

test("train-probe: SIGTERM stops the feature pass, writes no probe, and says so in one line", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ig-probe-stop-"));
  const data = join(dir, "texts.jsonl");
  // ~30 s of feature pass on stories260K: the signal (at the first progress line, ~5 s in) lands mid-pass.
  const texts = Array.from({ length: 4000 }, (_, i) => JSON.stringify({ text: `Once upon a time ${i} there was a little ${i % 2 ? "dog" : "cat"} who liked to play in the park`, label: i % 2 }));
  writeFileSync(data, texts.join("\n") + "\n");
  const out = join(dir, "probe.json");
  const r = await stopWhen(["train-probe", "--model", STORIES_MODEL, "--data", data, "--out", out, "--threads", "1"], (stderr) => /features \[/.test(stderr));
  expect(r.afterSignalMs).toBeGreaterThanOrEqual(0);
  expect(r.afterSignalMs).toBeLessThan(10_000);
  expect(r.code).toBe(2);
  expectOneStopLine(r.stderr, "train-probe was stopped before it finished; nothing was written");
  expect(existsSync(out)).toBe(false);
}, 120_000);

test("critic-evidence: SIGTERM stops the search comparison, writes neither the section nor the JSON, and says so in one line", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ig-evidence-stop-"));
  const prompts = join(dir, "prompts.jsonl");
  // 160 guarded answers, ~50 s: the signal (at the first progress line) lands mid-comparison.
  writeFileSync(prompts, Array.from({ length: 40 }, (_, i) => JSON.stringify({ prompt: `Once upon a time ${i}` })).join("\n") + "\n");
  const out = join(dir, "evidence.md");
  const json = join(dir, "evidence.json");
  const r = await stopWhen(
    [
      "critic-evidence", "--critic", join(PACKAGE_ROOT, "models", "stories260K-critic.bin"), "--model", STORIES_MODEL, "--prompts", prompts,
      "--cost", `rules:${join(PACKAGE_ROOT, "models", "conflict-lexicon.json")}`, "--out", out, "--json", json,
      "--parts", "b", "--seeds-per-prompt", "2", "--weights", "0.1", "--threads", "1",
    ],
    (stderr) => /\(b\) guard \[/.test(stderr),
  );
  expect(r.afterSignalMs).toBeGreaterThanOrEqual(0);
  expect(r.afterSignalMs).toBeLessThan(10_000);
  expect(r.code).toBe(2);
  expectOneStopLine(r.stderr, "critic-evidence was stopped before it finished; nothing was written");
  expect(existsSync(out)).toBe(false);
  expect(existsSync(json)).toBe(false);
}, 120_000);

test("train-cost: SIGTERM stops the training, writes no classifier, and says so in one line", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ig-cost-stop-"));
  const out = join(dir, "classifier.bin");
  // 100 epochs over the shared data take minutes: the signal (at the first progress line, ~5 s in) lands mid-training.
  const r = await stopWhen(["train-cost", "--out", out, "--epochs", "100"], (stderr) => /train-cost \[/.test(stderr));
  expect(r.afterSignalMs).toBeGreaterThanOrEqual(0);
  expect(r.afterSignalMs).toBeLessThan(10_000);
  expect(r.code).toBe(2);
  expectOneStopLine(r.stderr, "train-cost was stopped before it finished; nothing was written");
  expect(existsSync(out)).toBe(false);
}, 120_000);
