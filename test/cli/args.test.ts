// Flag parsing: a negative number after a flag is that flag's value, so it reaches the flag's own
// range check instead of node:util's "argument is ambiguous".
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags } from "../../src/cli/args.js";
import { UserError } from "../../src/errors.js";
import { cli } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "inference-guard-args-"));
const INPUT = join(dir, "in.jsonl");
writeFileSync(INPUT, '{"id": 1, "prompt": "Once"}\n');

const OPTIONS = { budget: { type: "string" }, seed: { type: "string" }, json: { type: "boolean" } } as const;

test("a negative number after a flag that takes a value is its value", () => {
  expect(parseFlags(["--budget", "-1", "--seed", "-5", "--json"], OPTIONS)).toMatchObject({ budget: "-1", seed: "-5", json: true });
  expect(parseFlags(["--budget", "-0.5"], OPTIONS)).toMatchObject({ budget: "-0.5" });
  expect(parseFlags(["--budget", "-.5"], OPTIONS)).toMatchObject({ budget: "-.5" });
});

test("a flag-like value is still a mistake, reported on one line", () => {
  let error: unknown;
  try {
    parseFlags(["--budget", "--json"], OPTIONS);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(UserError);
  expect((error as Error).message).toMatch(/--budget/);
  expect((error as Error).message).not.toContain("\n");
  // A negative number where no value is expected is an unexpected argument, not a value.
  expect(() => parseFlags(["--json", "-1"], OPTIONS)).toThrow(/Unknown option '-1'/);
});

describe("negative numbers give the range error, on one line, exit 2", () => {
  test.each([
    [["generate", "--prompt", "x", "--budget", "-1"], /budget must be > 0/],
    [["generate", "--prompt", "x", "--seed", "-5"], /--seed -5: Too small: expected number to be >=0/],
    [["generate", "--prompt", "x", "--temperature", "-1"], /--temperature -1: Too small: expected number to be >=0/],
    [["generate", "--prompt", "x", "--critic-weight", "-1"], /--critic-weight -1: Too small/],
    [["batch", "--in", INPUT, "--out", join(dir, "out.jsonl"), "--seed", "-5"], /--seed -5: Too small: expected number to be >=0/],
    [["serve", "--port", "-1"], /port: Too small/],
  ])("%j", async (argv, message) => {
    const r = await cli(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/ambiguous/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });
});
