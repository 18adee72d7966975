// The CLI as a user meets it: help, JSON output, traces, and one clear line for every mistake.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { STORIES_MODEL, TINY_RANDOM_MODEL, expectSearchWithinBudget } from "../helpers/models.js";
import { cli } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "inference-guard-cli-"));

test("--help explains the command and its flags", async () => {
  const top = await cli("--help");
  expect(top.code).toBe(0);
  expect(top.out).toMatch(/generate/);
  const help = await cli("generate", "--help");
  expect(help.code).toBe(0);
  for (const flag of ["--prompt", "--model", "--cost-rules", "--budget", "--beams", "--samples", "--width", "--max-tokens", "--seed", "--method", "--trace", "--json", "--chat", "--gpu", "--critic", "--critic-weight"]) {
    expect(help.out).toContain(flag);
  }
});

test("--json prints one object with the documented fields; the same seed repeats it", async () => {
  const args = ["generate", "--prompt", "Once upon a time", "--model", STORIES_MODEL, "--json", "--seed", "4", "--max-tokens", "40", "--samples", "8"];
  const first = await cli(...args);
  expect(first.code).toBe(0);
  const result = JSON.parse(first.out);
  expect(result).toMatchObject({ method: "guard", budget: 1, withinBudget: true, seed: 4 });
  for (const key of ["text", "cost", "tokens", "seconds"]) expect(result).toHaveProperty(key);
  expect(result.tokens).toBeGreaterThan(0);
  const second = JSON.parse((await cli(...args)).out);
  expect(second.text).toBe(result.text);
});

test("baseline methods run through the same engine", async () => {
  for (const method of ["sample", "greedy"]) {
    const r = await cli("generate", "--prompt", "Once upon a time", "--model", STORIES_MODEL, "--json", "--method", method, "--max-tokens", "30", "--seed", "1");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ method, tokens: 30 });
  }
});

test("--trace writes every block's candidates", async () => {
  const traceFile = join(dir, "trace.json");
  const r = await cli("generate", "--prompt", "Once upon a time", "--model", STORIES_MODEL, "--trace", traceFile, "--max-tokens", "24", "--seed", "2", "--samples", "8");
  expect(r.code).toBe(0);
  expect(r.err).toMatch(/within budget/);
  const trace = JSON.parse(readFileSync(traceFile, "utf8"));
  expect(trace.trace.length).toBeGreaterThan(0);
  expect(trace.trace[0].candidates[0]).toHaveProperty("z");
});

test("--trace into a missing folder creates it; a trace that cannot be written never loses the answer", async () => {
  const nested = join(dir, "new", "folder", "trace.json");
  const args = ["generate", "--prompt", "Once upon a time", "--model", STORIES_MODEL, "--max-tokens", "12", "--seed", "2", "--samples", "4"];
  const r = await cli(...args, "--trace", nested);
  expect(r.code).toBe(0);
  expect(r.out.trim().length).toBeGreaterThan(0);
  expect(JSON.parse(readFileSync(nested, "utf8")).text + "\n").toBe(r.out);

  const blocker = join(dir, "a-file");
  writeFileSync(blocker, "not a folder");
  const failed = await cli(...args, "--json", "--trace", join(blocker, "trace.json"));
  expect(JSON.parse(failed.out).tokens).toBeGreaterThan(0); // the answer is printed
  expect(failed.code).toBe(2);
  expect(failed.err).toMatch(/the answer is above, but its trace could not be written to .*a-file\/trace\.json/);
  expect(failed.err.trim().split("\n")).toHaveLength(1);

  const folder = await cli(...args, "--trace", dir);
  expect(folder.code).toBe(2);
  expect(folder.err).toMatch(/--trace .* is a folder/);
});

test("--critic-weight reaches the search: 0 leaves the critic out of the scores", async () => {
  const critic = join(PACKAGE_ROOT, "models", "stories260K-critic.bin");
  const candidates = async (weight: string) => {
    const traceFile = join(dir, `trace-critic-${weight}.json`);
    const r = await cli("generate", "--prompt", "Once upon a time", "--model", STORIES_MODEL, "--critic", critic, "--critic-weight", weight, "--trace", traceFile, "--max-tokens", "16", "--seed", "3");
    expect(r.code).toBe(0);
    return (JSON.parse(readFileSync(traceFile, "utf8")).trace as Array<{ candidates: Array<Record<string, unknown>> }>).flatMap((b) => b.candidates);
  };
  expect((await candidates("0.5")).some((c) => typeof c.safety === "number")).toBe(true);
  expect((await candidates("0")).some((c) => "safety" in c)).toBe(false);
});

test("--chat renders the prompt with the model's chat template", async () => {
  const r = await cli("generate", "--prompt", "Tell me a story", "--chat", "--system", "Be kind", "--model", TINY_RANDOM_MODEL, "--json", "--max-tokens", "8", "--seed", "1", "--samples", "4");
  expect(r.code).toBe(0);
  const plain = await cli("generate", "--prompt", "Tell me a story", "--model", TINY_RANDOM_MODEL, "--json", "--max-tokens", "8", "--seed", "1", "--samples", "4");
  expect(JSON.parse(r.out).text).not.toBe(JSON.parse(plain.out).text); // a different prompt reached the model
});

test("works on the 32k-vocabulary model", async () => {
  const r = await cli("generate", "--prompt", "Hello", "--model", TINY_RANDOM_MODEL, "--json", "--max-tokens", "16", "--seed", "1", "--samples", "4");
  expect(r.code).toBe(0);
  expectSearchWithinBudget(JSON.parse(r.out));
});

describe("mistakes give one clear line and a non-zero exit", () => {
  const notGguf = join(dir, "notes.txt");
  const badRules = join(dir, "bad-rules.json");
  const wrongRules = join(dir, "wrong-rules.json");
  beforeAll(() => {
    writeFileSync(notGguf, "hello, not a model");
    writeFileSync(badRules, "{ terms: ");
    writeFileSync(wrongRules, JSON.stringify({ terms: { hit: -1 } }));
  });
  const longPrompt = "Once upon a time there was a dog. ".repeat(400);
  test.each([
    [["generate"], /--prompt TEXT is required/],
    [["generate", "--prompt", "x", "--model", "/nope/model.gguf"], /model file not found: \/nope\/model.gguf/],
    [["generate", "--prompt", "x", "--model", notGguf], /not a GGUF model file/],
    [["generate", "--prompt", "x", "--model", STORIES_MODEL, "--cost-rules", badRules], /bad-rules.json/],
    [["generate", "--prompt", "x", "--model", STORIES_MODEL, "--cost-rules", wrongRules], /wrong-rules.json/],
    [["generate", "--prompt", "x", "--model", STORIES_MODEL, "--budget", "0"], /budget must be > 0/],
    [["generate", "--prompt", "x", "--model", STORIES_MODEL, "--budget", "abc"], /--budget expects a number/],
    [["generate", "--prompt", "x", "--model", STORIES_MODEL, "--method", "magic"], /--method must be one of/],
    [["generate", "--prompt", "x", "--model", STORIES_MODEL, "--critic-weight=-1"], /--critic-weight -1: Too small/],
    [["generate", "--prompt", "x", "--bogus"], /Unknown option '--bogus'/],
    [["generate", "--prompt", longPrompt, "--model", STORIES_MODEL], /prompt has \d+ tokens; the model's context is 2048/],
    [["frobnicate"], /unknown command "frobnicate"/],
  ])("%j", async (argv, message) => {
    const r = await cli(...(argv as string[]));
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
  });
});

test("the installed command prints one line, no stack trace, for a user mistake", () => {
  const r = spawnSync(process.execPath, [join(PACKAGE_ROOT, "bin", "inference-guard.js"), "generate", "--prompt", "x", "--model", "/nope.gguf"], {
    encoding: "utf8",
  });
  expect(r.status).toBe(2);
  expect(r.stderr.trim().split("\n")).toEqual(["inference-guard: model file not found: /nope.gguf (pass --model PATH or set INFERENCE_GUARD_MODEL)"]);
});
