// The evaluation's outputs, all derived from the records: report.json (zod-validated, versioned),
// report.md (the table a person reads) and three SVG plots, each written atomically.
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../util/files.js";
import type { MethodSummary } from "./metrics.js";
import { maxCostDistributionSvg, rewardVsSafetySvg, timeVsSafetySvg } from "./plots.js";
import type { EvalRecord } from "./records.js";

export const REPORT_FORMAT_VERSION = 1;

export const PLOT_FILES = {
  rewardVsSafety: "reward-vs-safety.svg",
  timeVsSafety: "time-vs-safety.svg",
  maxCostDistribution: "max-cost-distribution.svg",
} as const;

const labelSummarySchema = z.object({ records: z.number().int(), safetyRate: z.number(), refusalRate: z.number() }).strict();

export const methodReportSchema = z
  .object({
    name: z.string(),
    kind: z.string(),
    params: z.record(z.string(), z.union([z.number(), z.string()])),
    records: z.number().int().min(0),
    prompts: z.number().int().min(0),
    rewardMean: z.number().nullable(),
    rewardStd: z.number().nullable(),
    costMean: z.number(),
    maxCostMean: z.number(),
    safetyRate: z.number().min(0).max(1),
    safetyRateLow: z.number().min(0).max(1),
    safetyRateHigh: z.number().min(0).max(1),
    secondsPerPrompt: z.number().min(0),
    tokensPerSecond: z.number().min(0),
    tokensMean: z.number().min(0),
    fallbackRate: z.number().min(0).max(1),
    emptyRate: z.number().min(0).max(1),
    byLabel: z.object({ harmful: labelSummarySchema.optional(), harmless: labelSummarySchema.optional() }).strict(),
  })
  .strict();

export const reportSchema = z
  .object({
    version: z.literal(REPORT_FORMAT_VERSION),
    createdAt: z.string(),
    /** How to reproduce it. */
    command: z.string().optional(),
    settings: z
      .object({
        model: z.string(),
        prompts: z.string(),
        promptCount: z.number().int(),
        promptLabel: z.string().nullable(),
        chat: z.boolean(),
        cost: z.string(),
        reward: z.string().default("logprob"),
        critic: z.string().nullable(),
        budget: z.number(),
        maxTokens: z.number().int(),
        seeds: z.array(z.number().int()),
        scanWidth: z.number().int(),
        threads: z.number().int(),
        gpu: z.string(),
      })
      .strict(),
    /** Records expected (prompts × methods × seeds) and done. */
    progress: z.object({ expected: z.number().int(), done: z.number().int() }).strict(),
    methods: z.array(methodReportSchema),
  })
  .strict();

export type EvalReport = z.infer<typeof reportSchema>;

export function buildReport(args: Omit<EvalReport, "version" | "createdAt" | "methods"> & { methods: MethodSummary[] }): EvalReport {
  return reportSchema.parse({ version: REPORT_FORMAT_VERSION, createdAt: new Date().toISOString(), ...args });
}

/** Writes report.json, report.md and the plots into `dir`. */
export function writeReport(dir: string, report: EvalReport, records: readonly EvalRecord[]): void {
  const { budget } = report.settings;
  writeFileAtomic(join(dir, PLOT_FILES.rewardVsSafety), rewardVsSafetySvg(report.methods, budget));
  writeFileAtomic(join(dir, PLOT_FILES.timeVsSafety), timeVsSafetySvg(report.methods, budget));
  writeFileAtomic(join(dir, PLOT_FILES.maxCostDistribution), maxCostDistributionSvg(records, report.methods, budget));
  writeFileAtomic(join(dir, "report.json"), JSON.stringify(report, null, 2) + "\n");
  writeFileAtomic(join(dir, "report.md"), reportMarkdown(report));
}

const fixed = (v: number | null, digits: number) => (v === null ? "–" : v.toFixed(digits));
const percent = (v: number) => `${(v * 100).toFixed(1)}%`;

/** The results table alone (also pasted into docs/eval-report.md). */
export function methodsTable(report: EvalReport): string {
  const lines = [
    "| method | answers | reward (mean ± std) | avg cost | avg max cum. cost | safety rate [95% CI] | fallback | s / prompt | tokens / s | tokens |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const m of report.methods) {
    lines.push(
      `| ${m.name} | ${m.records} | ${fixed(m.rewardMean, 3)} ± ${fixed(m.rewardStd, 3)} | ${m.costMean.toFixed(3)} | ${m.maxCostMean.toFixed(3)} | ` +
        `${percent(m.safetyRate)} [${percent(m.safetyRateLow)}, ${percent(m.safetyRateHigh)}] | ${percent(m.fallbackRate)} | ` +
        `${m.secondsPerPrompt.toFixed(3)} | ${m.tokensPerSecond.toFixed(0)} | ${m.tokensMean.toFixed(1)} |`,
    );
  }
  return lines.join("\n");
}

export function reportMarkdown(report: EvalReport): string {
  const s = report.settings;
  const out: string[] = [];
  out.push("# Evaluation report", "");
  if (report.command) out.push("Reproduce with:", "", "```sh", report.command, "```", "");
  out.push(
    `- model: \`${s.model}\``,
    `- prompts: \`${s.prompts}\` (${s.promptCount} prompts${s.promptLabel ? `, all ${s.promptLabel}` : ""}${s.chat ? ", chat template" : ""}) × seeds ${s.seeds.join(", ")}`,
    `- cost model: \`${s.cost}\`; budget d = ${s.budget}${s.critic ? `; critic \`${s.critic}\`` : ""}`,
    `- answers up to ${s.maxTokens} tokens; max cumulative cost scanned in blocks of ${s.scanWidth} tokens; ${s.threads} thread(s), gpu: ${s.gpu}`,
    `- records: ${report.progress.done} of ${report.progress.expected}${report.progress.done < report.progress.expected ? " (incomplete: run the command again to continue)" : ""}`,
    `- written ${report.createdAt}`,
    "",
    "## Results",
    "",
    methodsTable(report),
    "",
    "- **reward**: mean token log-probability of the answer under the base model (nats/token), over non-empty answers; ± is the standard deviation over answers.",
    "- **avg cost**: mean cost of the final answer; **avg max cum. cost**: mean of the highest cumulative cost charged along the answer (sum of clipped block step costs).",
    "- **safety rate**: share of answers whose cost is within the budget, with a 95% Wilson interval.",
    "- **fallback**: share of answers the method cut short (or replaced by a refusal) because no continuation was within budget.",
    "- **s / prompt**: wall-clock seconds per answer; **tokens / s**: answer tokens per second of method time; **tokens**: mean answer length.",
    "",
  );
  const labelled = report.methods.filter((m) => m.byLabel.harmful || m.byLabel.harmless);
  if (labelled.length > 0) {
    out.push("## By prompt label", "", "| method | harmful: answers | harmful: safety rate | harmless: answers | harmless: over-refusal rate |", "|---|---:|---:|---:|---:|");
    for (const m of labelled) {
      const h = m.byLabel.harmful;
      const b = m.byLabel.harmless;
      out.push(`| ${m.name} | ${h?.records ?? 0} | ${h ? percent(h.safetyRate) : "–"} | ${b?.records ?? 0} | ${b ? percent(b.refusalRate) : "–"} |`);
    }
    out.push("", "Over-refusal: a harmless prompt whose answer the method cut short, replaced by its refusal text or left empty because the cost model ruled out every continuation.", "");
  }
  out.push(
    "## Plots",
    "",
    `![Reward vs safety rate](${PLOT_FILES.rewardVsSafety})`,
    "",
    `![Time vs safety rate](${PLOT_FILES.timeVsSafety})`,
    "",
    `![Distribution of max cumulative cost](${PLOT_FILES.maxCostDistribution})`,
    "",
  );
  const params = report.methods.map((m) => `- \`${m.name}\`: ${Object.entries(m.params).map(([k, v]) => `${k}=${v}`).join(", ") || "no parameters"}`);
  out.push("## Method settings", "", ...params, "");
  return out.join("\n");
}
