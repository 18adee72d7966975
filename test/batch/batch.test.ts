// `inference-guard batch` end to end: results, bad lines, resuming, and a run killed with SIGKILL
// that, re-run, loses nothing and duplicates nothing.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { STORIES_MODEL } from "../helpers/models.js";
import { cli } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "inference-guard-batch-"));
const SMALL = ["--model", STORIES_MODEL, "--threads", "1", "--max-tokens", "16", "--beams", "2", "--samples", "4", "--width", "4"];

function resultLines(path: string): any[] {
  const text = readFileSync(path, "utf8");
  expect(text === "" || text.endsWith("\n")).toBe(true);
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)); // throws on a torn line
}

/** Results in id order: with --parallel (default 4) lines come in the order prompts finish. */
function byId(results: any[]): any[] {
  return [...results].sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

test("answers every valid line, reports bad ones by line number, and a re-run resumes without redoing anything", async () => {
  const input = join(dir, "mixed.jsonl");
  const output = join(dir, "mixed-results.jsonl");
  writeFileSync(
    input,
    [
      JSON.stringify({ id: "a", prompt: "Once upon a time" }),
      "{ this is not json",
      JSON.stringify({ id: 2, messages: [{ role: "user", content: "Tell me a story" }], guard: { budget: 0.5, maxTokens: 8 } }),
      JSON.stringify({ id: "a", prompt: "a duplicate id" }),
      JSON.stringify({ id: "big", prompt: "x", guard: { beams: 10, samples: 60 } }),
      "",
      JSON.stringify({ id: "c", prompt: "The dog", guard: { method: "greedy" } }),
    ].join("\n") + "\n",
  );
  const first = await cli("batch", "--in", input, "--out", output, "--seed", "3", ...SMALL);
  expect(first.code).toBe(1); // some lines were skipped
  expect(first.err).toMatch(/mixed\.jsonl line 2: not valid JSON/);
  expect(first.err).toMatch(/mixed\.jsonl line 4: duplicate id "a" \(first on line 1\)/);
  expect(first.err).toMatch(/mixed\.jsonl line 5 \(id "big"\): beams \+ samples \(70\) exceed/);
  expect(first.err).toMatch(/batch \[#+\] 4\/4 prompts/); // the progress bar
  expect(first.err).toMatch(/3 written, 0 already done, 3 skipped/);
  const results = byId(resultLines(output));
  expect(results.map((r) => r.id)).toEqual([2, "a", "c"]);
  for (const r of results) {
    for (const key of ["text", "cost", "withinBudget", "seconds", "tokens", "seed", "stopReason"]) expect(r).toHaveProperty(key);
    // withinBudget alone cannot fail (the final check empties an over-budget answer): no fallback, an answer.
    expect(r).toMatchObject({ withinBudget: true, fallback: false });
    expect(r.text).not.toBe("");
  }
  expect(results[0]).toMatchObject({ budget: 0.5 });
  expect(results[0].tokens).toBeLessThanOrEqual(8);
  expect(results[2]).toMatchObject({ method: "greedy" });
  expect(existsSync(`${output}.lock`)).toBe(false);

  const before = readFileSync(output, "utf8");
  const again = await cli("batch", "--in", input, "--out", output, "--seed", "3", ...SMALL);
  expect(again.err).toMatch(/resuming: 3 of 4 prompts already in/);
  expect(again.err).toMatch(/0 written, 3 already done/);
  expect(readFileSync(output, "utf8")).toBe(before);
});

test("a resumed run writes exactly what an uninterrupted one would (seeds derive from the id)", async () => {
  const input = join(dir, "seeded.jsonl");
  const output = join(dir, "seeded-results.jsonl");
  writeFileSync(input, ["x1", "x2", "x3", "x4"].map((id, i) => JSON.stringify({ id, prompt: ["Once upon a time", "The cat", "Lily had", "One day"][i] })).join("\n"));
  expect((await cli("batch", "--in", input, "--out", output, "--seed", "42", "--quiet", ...SMALL)).code).toBe(0);
  const complete = readFileSync(output, "utf8");
  const lines = complete.split("\n");
  // Keep two whole lines and half of the third, as a crash in the middle of a write would.
  const cut = lines[0]!.length + 1 + lines[1]!.length + 1 + Math.floor(lines[2]!.length / 2);
  truncateSync(output, cut);
  const resumed = await cli("batch", "--in", input, "--out", output, "--seed", "42", "--quiet", ...SMALL);
  expect(resumed.code).toBe(0);
  expect(resumed.err).toMatch(/cut off an unfinished last line/);
  expect(resumed.err).toMatch(/2 written, 2 already done/);
  const strip = (text: string) => byId(resultLinesFromText(text)).map(({ seconds: _s, ...rest }) => rest);
  expect(strip(readFileSync(output, "utf8"))).toEqual(strip(complete));
});

function resultLinesFromText(text: string): any[] {
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

test("killed with SIGKILL mid-run, then re-run: every id exactly once, every line whole", async () => {
  const input = join(dir, "many.jsonl");
  const output = join(dir, "many-results.jsonl");
  const ids = Array.from({ length: 24 }, (_, i) => `p${i}`);
  const starts = ["Once upon a time", "The little dog", "Lily and Ben", "One sunny day", "There was a bird"];
  writeFileSync(input, ids.map((id, i) => JSON.stringify({ id, prompt: starts[i % starts.length] })).join("\n") + "\n");
  const args = [join(PACKAGE_ROOT, "bin", "inference-guard.js"), "batch", "--in", input, "--out", output, "--seed", "1", "--quiet",
    "--model", STORIES_MODEL, "--threads", "1", "--max-tokens", "48", "--beams", "2", "--samples", "8", "--width", "4"];

  const child = spawn(process.execPath, args, { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const lineCount = () => (existsSync(output) ? readFileSync(output, "utf8").split("\n").length - 1 : 0);
  const deadline = Date.now() + 60_000;
  while (lineCount() < 4) {
    if (Date.now() > deadline) throw new Error("the batch wrote nothing");
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill("SIGKILL");
  await exited;
  const survived = readFileSync(output, "utf8");
  const wholeBefore = survived.slice(0, survived.lastIndexOf("\n") + 1);
  const doneBefore = resultLinesFromText(wholeBefore).length;
  expect(doneBefore).toBeGreaterThanOrEqual(4);
  expect(doneBefore).toBeLessThan(ids.length); // it really was killed mid-run
  expect(existsSync(`${output}.lock`)).toBe(true); // left behind by the killed run

  const rerun = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  rerun.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => rerun.on("exit", resolve));
  expect(code).toBe(0);
  expect(stderr).toMatch(new RegExp(`resuming: ${doneBefore} of ${ids.length} prompts`));

  const after = readFileSync(output, "utf8");
  expect(after.startsWith(wholeBefore)).toBe(true); // nothing written before the kill was lost or changed
  const results = resultLines(output);
  expect(results.map((r) => r.id).sort()).toEqual([...ids].sort());
  expect(new Set(results.map((r) => r.id)).size).toBe(ids.length);
  expect(statSync(output).size).toBe(Buffer.byteLength(after));
  expect(existsSync(`${output}.lock`)).toBe(false);
});

describe("mistakes give one clear line", () => {
  test.each([
    [["batch", "--out", "x.jsonl"], /--in FILE is required/],
    [["batch", "--in", "x.jsonl"], /--out FILE is required/],
    [["batch", "--in", "/nope/prompts.jsonl", "--out", "x.jsonl"], /input file not found: \/nope\/prompts\.jsonl/],
    [["batch", "--in", "README.md", "--out", "README.md", "--model", STORIES_MODEL], /--in and --out are the same file/],
    [["batch", "--in", "README.md", "--out", "x.jsonl", "--cost-model", "strict"], /--cost-model expects NAME=SPEC/],
    [["batch", "--in", "README.md", "--out", "x.jsonl", "--seed=-1"], /--seed -1: Too small: expected number to be >=0/],
  ])("%j", async (argv, message) => {
    const r = await cli(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  test("--help explains every flag", async () => {
    const r = await cli("batch", "--help");
    expect(r.code).toBe(0);
    for (const flag of ["--in", "--out", "--model", "--cost", "--cost-model", "--budget", "--beams", "--samples", "--width", "--max-tokens", "--seed", "--method", "--chat", "--trace", "--quiet"]) {
      expect(r.out).toContain(flag);
    }
  });
});

test("--parallel answers several prompts at once with the answers of one at a time", async () => {
  const input = join(dir, "parallel.jsonl");
  writeFileSync(
    input,
    ["Once upon a time", "The cat", "Lily had a red ball", "One day", "Tom was sad"]
      .map((prompt, i) => JSON.stringify({ id: `p${i}`, prompt, ...(i === 2 ? { guard: { budget: 0.5, maxTokens: 12 } } : {}) }))
      .join("\n"),
  );
  const strip = (path: string) => byId(resultLines(path)).map(({ seconds: _s, ...rest }) => rest);
  const one = join(dir, "parallel-1.jsonl");
  const three = join(dir, "parallel-3.jsonl");
  expect((await cli("batch", "--in", input, "--out", one, "--seed", "8", "--quiet", "--parallel", "1", ...SMALL)).code).toBe(0);
  expect((await cli("batch", "--in", input, "--out", three, "--seed", "8", "--quiet", "--parallel", "3", ...SMALL)).code).toBe(0);
  expect(strip(three)).toEqual(strip(one));
  expect(strip(one)).toHaveLength(5);
  const bad = await cli("batch", "--in", input, "--out", join(dir, "parallel-bad.jsonl"), "--parallel", "0", ...SMALL);
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/parallel/);
  expect(bad.err).not.toMatch(/\n\s+at /); // no stack trace
});
