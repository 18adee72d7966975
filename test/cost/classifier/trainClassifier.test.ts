// Training the harm classifier end to end on the shared data (small settings, a few seconds),
// the train-cost command's file, help and refusals, and the split it validates on.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseMix } from "../../../src/cli/trainCost.js";
import { loadClassifierCostModel } from "../../../src/cost/classifier/classifier.js";
import { readClassifierFile } from "../../../src/cost/classifier/classifierFormat.js";
import type { LabeledText } from "../../../src/data/datasets.js";
import { DEFAULT_MIX, stratifiedSplit } from "../../../src/cost/classifier/trainClassifier.js";
import { cli } from "../../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "inference-guard-train-cost-"));

test("stratifiedSplit keeps each class's share, is seeded, and loses nothing", () => {
  const texts: LabeledText[] = Array.from({ length: 100 }, (_, i) => ({ text: `t${i}`, label: i < 30 ? 1 : 0, source: "x" }));
  const a = stratifiedSplit(texts, 0.1, 5);
  expect(a.validation.filter((t) => t.label === 1).length).toBe(3);
  expect(a.validation.filter((t) => t.label === 0).length).toBe(7);
  expect(new Set([...a.train, ...a.validation].map((t) => t.text)).size).toBe(100);
  expect(stratifiedSplit(texts, 0.1, 5).validation.map((t) => t.text)).toEqual(a.validation.map((t) => t.text));
  expect(stratifiedSplit(texts, 0.1, 6).validation.map((t) => t.text)).not.toEqual(a.validation.map((t) => t.text));
});

test("train-cost trains on the shared data, meets the ranking targets, and writes a loadable, self-describing file", async () => {
  const out = join(dir, "small.bin");
  const metricsFile = join(dir, "metrics.json");
  // Small and quick: 2^16 buckets, 2 epochs.
  const r = await cli("train-cost", "--out", out, "--buckets", "65536", "--epochs", "2", "--seed", "3", "--metrics", metricsFile, "--json");
  expect(r.code).toBe(0);
  expect(r.err).toMatch(/train-cost \[#+\] \d+\/\d+ batches/); // the progress bar
  const report = JSON.parse(r.out);
  expect(report.metrics["gptfuzz-evaluate"].n).toBe(1540);
  expect(report.metrics["gptfuzz-evaluate"].rocAuc).toBeGreaterThanOrEqual(0.95);
  expect(report.metrics["xstest-heldout"].n).toBe(450);
  expect(report.metrics["xstest-heldout"].rocAuc).toBeGreaterThanOrEqual(0.85);
  expect(report.targets["gptfuzz-evaluate"].met).toBe(true);
  expect(JSON.parse(readFileSync(metricsFile, "utf8")).metrics).toEqual(report.metrics);

  const header = readClassifierFile(out).header;
  expect(header.features).toMatchObject({ bucketBits: 16, buckets: 65536, wordNgrams: 3, charNgrams: { min: 3, max: 5 } });
  expect(header.training).toMatchObject({ seed: 3, epochs: 2, command: ["inference-guard", "train-cost", "--out", out, "--buckets", "65536", "--epochs", "2", "--seed", "3", "--metrics", metricsFile, "--json"] });
  expect(Date.parse(header.training!.createdAt!)).toBeGreaterThan(Date.parse("2024-01-01"));
  const sources = (header.training!.data!.sources ?? []).map((s) => s.name);
  expect(sources).toEqual(["gptfuzz", "xstest", "harmless-answers", "harmful-prompts", "harmless-prompts", "davidson"]);
  expect(header.metrics).toEqual(report.metrics);

  const model = await loadClassifierCostModel(out, dir);
  const refusal = await model.cost("I'm sorry, but I cannot help with that request.");
  expect(refusal).toBeLessThan(0.5);
}, 120_000);

test("train-cost --help lists every flag with its default; mistakes are one line, exit 2", async () => {
  const help = await cli("train-cost", "--help");
  expect(help.code).toBe(0);
  for (const flag of ["--data-dir", "--out", "--epochs", "--seed", "--buckets", "--word-ngrams", "--char-ngrams", "--char-weight", "--lr", "--l2", "--batch-size", "--mix", "--xstest-holdout", "--calibration", "--metrics", "--json"]) {
    expect(help.out).toContain(flag);
  }
  expect(help.out).toContain("(default ../shared/data)"); // relative to the package, as on every machine
  const cases: Array<[string[], RegExp]> = [
    [[], /--out FILE is required/],
    [["--out", join(dir, "x.bin"), "--buckets", "1000"], /--buckets must be a power of two/],
    [["--out", join(dir, "x.bin"), "--char-ngrams", "5-3"], /--char-ngrams needs 2 <= MIN <= MAX <= 8/],
    [["--out", join(dir, "x.bin"), "--mix", "reddit=1"], /--mix: unknown source "reddit"/],
    [["--out", join(dir, "x.bin"), "--xstest-holdout", "gpt5"], /--xstest-holdout: unknown model "gpt5"/],
    [["--out", join(dir, "x.bin"), "--data-dir", join(dir, "nowhere")], /data folder not found/],
    [["--out", join(dir, "x.bin"), "--data-dir", dir], /data file not found: .*responses_evaluate\.csv/],
    [["--out", join(dir, "x.bin"), "--epochs", "two"], /--epochs expects an integer/],
    [["--out", join(dir, "x.bin"), "--calibration", "isotonic"], /--calibration must be one of none, platt/],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli("train-cost", ...args);
    expect([r.code, r.err.trim().split("\n").length]).toEqual([2, 1]);
    expect(r.err).toMatch(pattern);
  }
});

test("--mix overrides the default shares source by source", () => {
  expect(parseMix("davidson=0, gptfuzz=0.7")).toEqual({ ...DEFAULT_MIX, davidson: 0, gptfuzz: 0.7 });
  expect(() => parseMix("gptfuzz=-1")).toThrow(/weight of gptfuzz must be a number >= 0/);
  expect(() => parseMix("gptfuzz=0,xstest=0,harmless-answers=0,harmful-prompts=0,harmless-prompts=0,davidson=0")).toThrow(/every source weight 0/);
});
