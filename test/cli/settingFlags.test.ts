// Settings are declared once (src/settings.ts); flags, --help lines, request fields, eval method
// parameters and training configs are derived from that declaration and must agree with it.
import { z } from "zod";
import { parseFlags } from "../../src/cli/args.js";
import { readRuntime, readSettings, settingHelp, settingOptions } from "../../src/cli/settingFlags.js";
import { criticEvidenceOptionsSchema } from "../../src/critic/criticEvidence.js";
import { trainCriticOptionsSchema } from "../../src/critic/trainCritic.js";
import { DEFAULT_MAX_SEQUENCES } from "../../src/engine/constants.js";
import { UserError } from "../../src/errors.js";
import { parseMethodSpec } from "../../src/eval/methods.js";
import { batchGuardSchema, guardFieldSchema } from "../../src/request/guardSettings.js";
import { guardOptionsSchema } from "../../src/search/options.js";
import { SEARCH_SETTINGS, SETTINGS, type Setting } from "../../src/settings.js";

const all = Object.entries(SETTINGS) as Array<[keyof typeof SETTINGS, Setting]>;

test("every setting has its own flag, and its default passes its own check", () => {
  const flags = all.map(([, s]) => s.flag);
  expect(new Set(flags).size).toBe(flags.length);
  for (const [key, s] of all) {
    if (s.default !== undefined) expect([key, s.base.safeParse(s.default).success]).toEqual([key, true]);
    expect(s.help).not.toMatch(/default/);
  }
});

test("the library's defaults are the declared ones", () => {
  const defaults = guardOptionsSchema.parse({}) as Record<string, unknown>;
  for (const [key, s] of Object.entries(SEARCH_SETTINGS) as Array<[string, Setting]>) expect([key, defaults[key]]).toEqual([key, s.default]);
});

test("flags are read by kind; a bad value is one line naming the flag", () => {
  const keys = ["beams", "budget", "onUnsafe", "trace", "seed"] as const;
  const v = parseFlags(["--beams", "3", "--budget", "0.5", "--on-unsafe", "refuse", "--trace"], settingOptions(keys));
  expect(readSettings(v, keys)).toEqual({ beams: 3, budget: 0.5, onUnsafe: "refuse", trace: true });
  expect(() => readSettings(parseFlags(["--beams", "2.5"], settingOptions(keys)), keys)).toThrow(new UserError('--beams expects an integer, got "2.5"'));
  expect(() => readSettings(parseFlags(["--on-unsafe", "maybe"], settingOptions(keys)), keys)).toThrow(/--on-unsafe must be one of truncate, refuse/);
  expect(readRuntime(parseFlags(["--gpu", "cpu", "--threads", "2"], settingOptions(["gpu", "threads", "contextSize"])))).toEqual({ gpu: false, threads: 2 });
});

test("--help lines end with the declared default (or its description)", () => {
  expect(settingHelp(["beams"])).toBe("  --beams K              beams kept per block (default 4)");
  expect(settingHelp(["criticWeight"])).toMatch(/\(default 0\.03; docs\/critic\.md\)$/);
  expect(settingHelp(["seed"])).toMatch(/\(default: random, reported\)$/);
  expect(settingHelp(["trace"])).not.toMatch(/default/);
});

test("the server's guard field and batch rows take exactly the settings declared for them", () => {
  const fieldKeys = (schema: unknown) => Object.keys((schema as z.ZodObject).shape).sort();
  const declared = (where: string[]) => (Object.entries(SEARCH_SETTINGS) as Array<[string, Setting]>).filter(([, s]) => where.includes(s.request ?? "")).map(([k]) => k);
  expect(fieldKeys(guardFieldSchema)).toEqual([...declared(["guard"]), "cost", "reward", "method"].sort());
  expect(fieldKeys(batchGuardSchema)).toEqual([...declared(["guard", "batch"]), "cost", "reward", "method"].sort());
  expect(fieldKeys(batchGuardSchema)).toEqual(expect.arrayContaining(["maxTokens", "temperature", "topP", "seed", "budget", "beams"]));
  expect(guardFieldSchema.safeParse({ beams: 2.5 }).success).toBe(false);
  expect(guardFieldSchema.safeParse({ beam: 2 }).success).toBe(false); // strict: a typo is refused
});

describe("one samples limit: a block search's K + N sequences fit the engine's", () => {
  test.each([
    ["guard:k=2:n=62", true],
    ["guard:k=4:n=61", false],
    ["beam-safe:k=32:n=40", false],
    [`bon:n=${DEFAULT_MAX_SEQUENCES - 1}`, true],
    [`bon:n=${DEFAULT_MAX_SEQUENCES}`, false],
  ])("eval method %s: %p", (spec, ok) => {
    if (ok) expect(() => parseMethodSpec(spec)).not.toThrow();
    else expect(() => parseMethodSpec(spec)).toThrow(/must be at most/);
  });

  test("critic-evidence refuses what its engine cannot hold, before loading anything", () => {
    const base = { model: "m.gguf", critic: "c.bin", prompts: "p.jsonl", cost: "rules:x.json", out: "o.md" };
    expect(criticEvidenceOptionsSchema.safeParse({ ...base, beams: 4, samples: 60 }).success).toBe(true);
    const r = criticEvidenceOptionsSchema.safeParse({ ...base, beams: 4, samples: 61 });
    expect(r.success ? "" : r.error.issues[0]!.message).toMatch(/beams \+ samples must be at most 64/);
  });
});

test("training configs share the settings' ranges and the default budget", () => {
  const base = { model: "m.gguf", cost: "rules:x.json", out: "c.bin" };
  expect(trainCriticOptionsSchema.parse(base).budget).toBe(SETTINGS.budget.default);
  expect(criticEvidenceOptionsSchema.parse({ ...base, critic: "c.bin", prompts: "p.jsonl", out: "o.md" }).budget).toBe(SETTINGS.budget.default);
  const bad = trainCriticOptionsSchema.safeParse({ ...base, budget: 0 });
  expect(bad.success ? "" : bad.error.issues[0]!.message).toBe("budget must be > 0");
});
