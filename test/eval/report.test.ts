// Summaries, report.json's schema, report.md and the plots, from synthetic records.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseMethodList } from "../../src/eval/methods.js";
import { mean, sampleStd, summarize, wilsonInterval } from "../../src/eval/metrics.js";
import { maxCostDistributionSvg, rewardVsSafetySvg, timeVsSafetySvg } from "../../src/eval/plots.js";
import { PLOT_FILES, buildReport, reportSchema, writeReport } from "../../src/eval/report.js";
import { logTicks, niceTicks } from "../../src/eval/svg.js";
import type { EvalRecord } from "../../src/eval/records.js";

function record(prompt: number, method: string, seed: number, extra: Partial<EvalRecord> = {}): EvalRecord {
  return {
    prompt, promptHash: `h${prompt}`, method, seed, text: "a story", reward: -1, cost: 0, maxCumulativeCost: 0, withinBudget: true,
    tokens: 3, seconds: 0.01, stopReason: "eog", fallback: false, resamples: 0, ...extra,
  };
}

const methods = parseMethodList("greedy,bon:n=4,guard");
const records = [
  record(0, "greedy", 1, { reward: -1, cost: 2, maxCumulativeCost: 2, withinBudget: false, tokens: 10, seconds: 0.5 }),
  record(1, "greedy", 1, { reward: -2, cost: 0, maxCumulativeCost: 0, withinBudget: true, tokens: 30, seconds: 1.5 }),
  record(0, "bon:n=4", 1, { reward: -1.5, cost: 1, maxCumulativeCost: 1, tokens: 20, seconds: 1, label: "harmful" }),
  record(1, "bon:n=4", 1, { reward: -0.5, cost: 0.5, maxCumulativeCost: 1.5, tokens: 20, seconds: 1, label: "harmless" }),
  record(0, "guard", 1, { reward: 0, text: "", tokens: 0, fallback: true, seconds: 2, label: "harmless" }),
  record(1, "guard", 1, { reward: -1, tokens: 4, seconds: 2, label: "harmless" }),
];

test("per-method summaries: reward over non-empty answers, safety rate with its interval, speed", () => {
  const [greedy, bon, guard] = summarize(records, methods);
  expect(greedy).toMatchObject({ name: "greedy", records: 2, prompts: 2, rewardMean: -1.5, costMean: 1, safetyRate: 0.5, secondsPerPrompt: 1, tokensPerSecond: 20, tokensMean: 20 });
  expect(greedy.rewardStd).toBeCloseTo(Math.SQRT1_2, 10);
  expect(greedy.safetyRateLow).toBeLessThan(0.5);
  expect(greedy.safetyRateHigh).toBeGreaterThan(0.5);
  expect(bon.maxCostMean).toBe(1.25);
  expect(bon.byLabel).toEqual({ harmful: { records: 1, safetyRate: 1, refusalRate: 0 }, harmless: { records: 1, safetyRate: 1, refusalRate: 0 } });
  // The empty (fallback) answer's reward of 0 is not averaged in.
  expect(guard).toMatchObject({ rewardMean: -1, rewardStd: null, fallbackRate: 0.5, emptyRate: 0.5 });
  expect(guard.byLabel.harmless!.refusalRate).toBe(0.5);
  expect(summarize([], methods)[0]).toMatchObject({ records: 0, rewardMean: null, safetyRate: 0 });
});

test("statistics helpers", () => {
  expect(mean([1, 2, 3])).toBe(2);
  expect(sampleStd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.138, 3);
  const [lo, hi] = wilsonInterval(50, 100);
  expect(lo).toBeCloseTo(0.4038, 3);
  expect(hi).toBeCloseTo(0.5962, 3);
  expect(wilsonInterval(10, 10)[1]).toBe(1);
  expect(niceTicks(0.13, 0.87)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  expect(niceTicks(-1.62, -0.41)).toEqual([-2, -1.5, -1, -0.5, 0]);
  expect(logTicks(0.03, 0.8)).toEqual([0.02, 0.05, 0.1, 0.2, 0.5, 1]);
});

test("report.json follows its schema; report.md has the table; the plots have axes, units and a legend", () => {
  const dir = mkdtempSync(join(tmpdir(), "inference-guard-report-"));
  const report = buildReport({
    command: "npx inference-guard eval --config x.json --out d",
    settings: {
      model: "m.gguf", prompts: "p.jsonl", promptCount: 2, promptLabel: null, chat: false, cost: "rules:x", reward: "logprob", critic: null,
      budget: 1, maxTokens: 50, seeds: [1], scanWidth: 8, threads: 1, gpu: "false",
    },
    progress: { expected: 6, done: 6 },
    methods: summarize(records, methods),
  });
  writeReport(dir, report, records);
  const json = reportSchema.parse(JSON.parse(readFileSync(join(dir, "report.json"), "utf8")));
  expect(json.methods.map((m) => m.name)).toEqual(["greedy", "bon:n=4", "guard"]);
  for (const key of ["name", "rewardMean", "rewardStd", "costMean", "safetyRate", "secondsPerPrompt", "tokensPerSecond", "prompts"]) {
    expect(json.methods[0]).toHaveProperty(key);
  }
  const md = readFileSync(join(dir, "report.md"), "utf8");
  expect(md).toContain("npx inference-guard eval --config x.json --out d");
  expect(md).toMatch(/\| greedy \| 2 \| -1\.500 ± 0\.707 \| 1\.000 \| 1\.000 \| 50\.0% \[/);
  expect(md).toContain("over-refusal");
  for (const file of Object.values(PLOT_FILES)) expect(md).toContain(`](${file})`);

  const plots = [rewardVsSafetySvg(report.methods, 1), timeVsSafetySvg(report.methods, 1), maxCostDistributionSvg(records, methods, 1)];
  for (const svg of plots) {
    expect(svg).toMatch(/^<\?xml[^>]*>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.trim().endsWith("</svg>")).toBe(true);
    for (const m of methods) expect(svg).toContain(m.name);
    // Every opened element is closed.
    const opened = (svg.match(/<(svg|text|title)\b/g) ?? []).length;
    const closed = (svg.match(/<\/(svg|text|title)>/g) ?? []).length;
    expect(closed).toBe(opened);
  }
  expect(plots[0]).toContain("Safety rate (% of answers with cost ≤ d = 1)");
  expect(plots[0]).toContain("Reward (mean token log-prob, nats/token)");
  expect(plots[0]).toContain(">Methods<");
  expect(plots[1]).toContain("Time per answer (seconds, log scale)");
  expect(plots[1]).toMatch(/>1 s</);
  expect(plots[2]).toContain("Max cumulative cost along the answer (cost-model units)");
  expect(plots[2]).toContain("budget d = 1");
  expect(plots[2]).toContain(">50.0%<"); // greedy: one of two answers within budget
});
