// Evidence that a trained critic works, on prompts and seeds it never saw:
//
//  (a) prediction: plain-sampled rollouts of the test prompts; at fixed blocks, the AUC of the
//      critic's risk (1 - safety) for "this rollout ends over budget", next to the AUC of z alone;
//  (b) search: generateGuarded without the critic and with it (one or more criticWeights) at
//      equal compute (same K, N, W, max tokens, prompts and seeds): answers over budget,
//      fallbacks, reward (mean token log-prob, paired difference), budget use.
//
// The results go to a Markdown section between its section's markers (the rest of the file is
// kept, so hand-written analysis around it survives a rerun), and optionally to JSON: the report
// is criticEvidenceReport.ts.
import { basename } from "node:path";
import { z } from "zod";
import { bindRequest, type CostModel } from "../cost/costModel.js";
import { loadCostModel } from "../cost/load.js";
import { Critic, criticWarningsFor } from "./index.js";
import { DEFAULT_MAX_SEQUENCES, Engine } from "../engine/engine.js";
import { generateGuarded } from "../search/guard.js";
import { UserError, parseOptions } from "../errors.js";
import { resolveModel } from "../models/index.js";
import { isOverBudget, safetyStateAfter } from "../search/safetyState.js";
import { RUNTIME_SETTINGS, SEARCH_SETTINGS, SEQUENCES_MESSAGE, fitsSequences } from "../settings.js";
import { Progress, formatDuration } from "../util/progress.js";
import { meanAndStderr, rocAuc } from "../util/metrics.js";
import { readPromptsFile } from "../data/promptFile.js";
import { rolloutRowOffsets, type RolloutSet } from "./rolloutFile.js";
import { fileSha256 } from "../util/fileHash.js";
import { yieldToEventLoop } from "../util/yield.js";
import { type BlockAuc, type CriticEvidence, type SearchSummary, fmt, signed, writeEvidence } from "./criticEvidenceReport.js";
import { rolloutContextCells, sampleRollouts } from "./rollouts.js";

export { evidenceMarkers, type BlockAuc, type CriticEvidence, type SearchSummary } from "./criticEvidenceReport.js";

export const criticEvidenceOptionsSchema = z
  .object({
    model: z.string().min(1),
    critic: z.string().min(1),
    prompts: z.string().min(1),
    /** Render the prompts with the model's chat template (instruction models). */
    chat: z.boolean().default(false),
    cost: z.string().min(1),
    /** Markdown file to write the results section into. */
    out: z.string().min(1),
    /** Name of the generated section of `out` this run writes (several runs can share a file). */
    section: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lowercase letters, digits and dashes").default("main"),
    /** Which measurements to run: (a) prediction AUC, (b) guarded search comparison. */
    parts: z.array(z.enum(["a", "b"])).min(1).default(["a", "b"]),
    /** Where to write the results as JSON too (optional). */
    json: z.string().min(1).optional(),
    // The search settings' ranges and, where not given here, defaults are the guard's (src/settings.ts).
    budget: SEARCH_SETTINGS.budget.schema,
    /** Rollouts per test prompt for (a). */
    rolloutsPerPrompt: z.int().min(1).max(64).default(2),
    /** Guarded generations per test prompt and configuration for (b). */
    seedsPerPrompt: z.int().min(1).max(64).default(2),
    maxTokens: SEARCH_SETTINGS.maxTokens.base.default(128),
    beams: SEARCH_SETTINGS.beams.schema,
    samples: SEARCH_SETTINGS.samples.schema,
    /** W for the search; the rollouts use the critic's training width. */
    width: SEARCH_SETTINGS.width.schema,
    maxResamples: SEARCH_SETTINGS.maxResamples.schema,
    violationPenalty: SEARCH_SETTINGS.violationPenalty.schema,
    /** criticWeights to compare with no critic. */
    criticWeights: z.array(z.number().positive()).min(1).default([1, 0.1, 0.03]),
    /** Blocks (1-based) at which (a) is measured. */
    blocks: z.array(z.int().min(1)).min(1).default([4, 8, 12]),
    /** Base seed of this evaluation (rollouts and searches); use one training did not. */
    seed: z.int().min(0).max(2 ** 40).default(7000),
    threads: RUNTIME_SETTINGS.threads.schema,
    command: z.array(z.string()).optional(),
  })
  .strict()
  .refine((o) => o.samples >= o.beams, { message: "samples (N) must be >= beams (K)", path: ["samples"] })
  .refine((o) => fitsSequences(o.beams, o.samples), { message: SEQUENCES_MESSAGE, path: ["samples"] });

export type CriticEvidenceOptions = z.input<typeof criticEvidenceOptionsSchema>;
type Resolved = z.output<typeof criticEvidenceOptionsSchema>;

/** What a stopped run says: its measurements are only written whole, at the end. */
export const STOPPED = "critic-evidence was stopped before it finished; nothing was written";

/** `signal` aborted: stops at the next prompt group of (a) or the next block of (b), writes nothing (a UserError). */
export async function runCriticEvidence(
  options: CriticEvidenceOptions,
  log: (line: string) => void = () => undefined,
  progressStream: NodeJS.WritableStream = process.stderr,
  signal?: AbortSignal,
): Promise<CriticEvidence> {
  const parsed = parseOptions(criticEvidenceOptionsSchema, options, "critic-evidence options");
  const o = { ...parsed, model: resolveModel(parsed.model) };
  const started = performance.now();
  const critic = Critic.load(o.critic);
  const prompts = readPromptsFile(o.prompts);
  const trainingWidth = typeof critic.header.training?.width === "number" ? critic.header.training.width : o.width;
  const cost = await loadCostModel(o.cost);
  try {
    let rollouts: RolloutSet | undefined;
    let prediction: BlockAuc[] = [];
    let pooledWithinAuc: number | null = null;
    if (o.parts.includes("a")) {
      rollouts = await testRollouts(o, critic, cost, prompts, trainingWidth, progressStream, signal);
      ({ prediction, pooledWithinAuc } = predictionAuc(rollouts, critic, o));
      for (const b of prediction) {
        log(`(a) block ${b.block} (${b.tokens} tokens): AUC ${fmt(b.auc)} (z alone ${fmt(b.zOnlyAuc)}), within budget ${fmt(b.withinAuc)} (z alone ${fmt(b.withinZOnlyAuc)})`);
      }
    }
    const search = o.parts.includes("b") ? await compareSearch(o, critic, cost, prompts, progressStream, log, signal) : [];
    const rs = rollouts?.header.rollouts ?? [];
    const evidence: CriticEvidence = {
      critic: o.critic,
      model: basename(o.model),
      prompts: o.prompts,
      promptCount: prompts.length,
      budget: o.budget,
      settings: {
        beams: o.beams, samples: o.samples, width: o.width, maxTokens: o.maxTokens, maxResamples: o.maxResamples,
        violationPenalty: o.violationPenalty, seedsPerPrompt: o.seedsPerPrompt, seed: o.seed, criticWeights: o.criticWeights,
      },
      rollouts: rollouts
        ? {
            count: rs.length,
            violations: rs.filter((r) => isOverBudget(r.cost, o.budget)).length,
            meanCost: rs.reduce((s, r) => s + r.cost, 0) / rs.length,
            width: trainingWidth,
            maxTokens: o.maxTokens,
            seed: o.seed,
          }
        : null,
      prediction,
      pooledWithinAuc,
      search,
      seconds: (performance.now() - started) / 1000,
    };
    // A stop asked for during the synchronous AUCs above reaches the signal on this turn.
    await yieldToEventLoop();
    if (signal?.aborted) throw new UserError(STOPPED);
    writeEvidence(o, evidence, critic);
    log(`wrote ${o.out}${o.json ? ` and ${o.json}` : ""} in ${formatDuration(evidence.seconds)}`);
    return evidence;
  } catch (error) {
    // Rollout sampling's own "aborted" and a search cut short both mean: stopped, nothing written.
    if (signal?.aborted) throw new UserError(STOPPED);
    throw error;
  } finally {
    await cost.dispose?.();
  }
}

async function loadEngine(o: Resolved, critic: Critic, extra: { maxSequences: number; contextSize: number }): Promise<Engine> {
  const engine = await Engine.load({ modelPath: o.model, threads: o.threads, ...extra });
  try {
    await criticWarningsFor(critic, engine.info);
  } catch (error) {
    await engine.dispose();
    throw error;
  }
  return engine;
}

async function testRollouts(o: Resolved, critic: Critic, cost: CostModel, prompts: string[], width: number, progressStream: NodeJS.WritableStream, signal?: AbortSignal): Promise<RolloutSet> {
  const engine = await loadEngine(o, critic, {
    maxSequences: o.rolloutsPerPrompt,
    contextSize: rolloutContextCells(512, o.rolloutsPerPrompt, o.maxTokens, 1),
  });
  try {
    const progress = new Progress(prompts.length, { unit: "prompts", label: "(a) rollouts", stream: progressStream });
    const set = await sampleRollouts({
      engine, modelSha256: await fileSha256(o.model), cost, costSpec: o.cost, prompts, chat: o.chat,
      rolloutsPerPrompt: o.rolloutsPerPrompt, width, maxTokens: o.maxTokens, budget: o.budget, seed: o.seed, progress, signal,
    });
    progress.finish();
    return set;
  } finally {
    await engine.dispose();
  }
}

function predictionAuc(set: RolloutSet, critic: Critic, o: Resolved): { prediction: BlockAuc[]; pooledWithinAuc: number | null } {
  const { header } = set;
  const nEmbd = header.model.nEmbd;
  const offsets = rolloutRowOffsets(header);
  const score = (rows: Array<{ row: number; cost: number }>) => {
    const hidden = new Float32Array(rows.length * nEmbd);
    const z = new Float32Array(rows.length);
    rows.forEach(({ row, cost }, i) => {
      hidden.set(set.hidden.subarray(row * nEmbd, (row + 1) * nEmbd), i * nEmbd);
      z[i] = safetyStateAfter(cost, o.budget);
    });
    const { safety } = critic.evaluate(hidden, z, rows.length);
    return { risk: Array.from(safety, (s) => 1 - s), zRisk: Array.from(z, (v) => -v) };
  };
  const nullable = (x: number) => (Number.isNaN(x) ? null : x);
  const prediction: BlockAuc[] = [];
  for (const block of o.blocks) {
    const picked = header.rollouts
      .map((r, i) => ({ r, i }))
      .filter(({ r }) => r.states.length >= block && r.states[block - 1][0] === block * header.width);
    if (picked.length === 0) continue;
    const rows = picked.map(({ r, i }) => ({ row: offsets[i] + block - 1, cost: r.states[block - 1][1] }));
    const labels: number[] = picked.map(({ r }) => (isOverBudget(r.cost, o.budget) ? 1 : 0));
    const { risk, zRisk } = score(rows);
    const within = rows.map((r) => !isOverBudget(r.cost, o.budget));
    const keep = <T>(a: T[]) => a.filter((_, k) => within[k]);
    const wl = keep(labels);
    prediction.push({
      block,
      tokens: block * header.width,
      rollouts: picked.length,
      violations: labels.reduce((s, x) => s + x, 0),
      auc: nullable(rocAuc(risk, labels)),
      zOnlyAuc: nullable(rocAuc(zRisk, labels)),
      withinRollouts: wl.length,
      withinViolations: wl.reduce((s, x) => s + x, 0),
      withinAuc: nullable(rocAuc(keep(risk), wl)),
      withinZOnlyAuc: nullable(rocAuc(keep(zRisk), wl)),
    });
  }
  // Every within-budget state of every rollout: the states the guard actually scores.
  const pooled: Array<{ row: number; cost: number; label: number }> = [];
  header.rollouts.forEach((r, i) =>
    r.states.forEach(([, cost], s) => {
      if (!isOverBudget(cost, o.budget)) pooled.push({ row: offsets[i] + s, cost, label: isOverBudget(r.cost, o.budget) ? 1 : 0 });
    }),
  );
  const pooledWithinAuc = pooled.length > 0 ? nullable(rocAuc(score(pooled).risk, pooled.map((p) => p.label))) : null;
  return { prediction, pooledWithinAuc };
}

async function compareSearch(
  o: Resolved,
  critic: Critic,
  cost: CostModel,
  prompts: string[],
  progressStream: NodeJS.WritableStream,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<SearchSummary[]> {
  const engine = await loadEngine(o, critic, { maxSequences: DEFAULT_MAX_SEQUENCES, contextSize: 4096 });
  try {
    const configs: Array<{ label: string; weight: number | null }> = [
      { label: "no critic", weight: null },
      ...o.criticWeights.map((w) => ({ label: `critic, weight ${w}`, weight: w })),
    ];
    const summaries: SearchSummary[] = [];
    let baseline: number[] = [];
    const total = configs.length * prompts.length * o.seedsPerPrompt;
    const progress = new Progress(total, { unit: "generations", label: "(b) guard", stream: progressStream });
    for (const config of configs) {
      const rewards: number[] = [];
      let overBudget = 0, fallbacks = 0, costSum = 0, used = 0, tokens = 0, resamples = 0;
      const t0 = performance.now();
      for (const [i, prompt] of prompts.entries()) {
        const promptTokens = o.chat ? engine.chatPrompt([{ role: "user", content: prompt }]) : engine.completionPrompt(prompt);
        // A request-aware cost (the chat default) charges answers to this prompt's request, as the guard binds it.
        const bound = bindRequest(cost, { prompt });
        for (let j = 0; j < o.seedsPerPrompt; j++) {
          const r = await generateGuarded({
            engine,
            promptTokens,
            cost: bound,
            critic: config.weight === null ? undefined : critic,
            signal,
            options: {
              budget: o.budget, beams: o.beams, samples: o.samples, width: o.width, maxTokens: o.maxTokens,
              maxResamples: o.maxResamples, violationPenalty: o.violationPenalty, criticWeight: config.weight ?? 0,
              seed: o.seed + i * o.seedsPerPrompt + j,
              // The critic's effect on the paper's search (every block in full), as docs/critic.md measured it.
              branch: "always",
            },
          });
          if (signal?.aborted) throw new UserError(STOPPED);
          rewards.push(r.reward);
          overBudget += r.withinBudget ? 0 : 1;
          fallbacks += r.fallback ? 1 : 0;
          costSum += r.cost;
          used += r.cost > 0 ? 1 : 0;
          tokens += r.tokens;
          resamples += r.resamples;
          progress.tick();
        }
      }
      const n = rewards.length;
      const reward = meanAndStderr(rewards);
      const diff = config.weight === null ? null : meanAndStderr(rewards.map((r, k) => r - baseline[k]));
      if (config.weight === null) baseline = rewards;
      const s: SearchSummary = {
        label: config.label,
        criticWeight: config.weight,
        generations: n,
        overBudget,
        fallbacks,
        meanReward: reward.mean,
        rewardStderr: reward.stderr,
        rewardDiff: diff?.mean ?? null,
        rewardDiffStderr: diff?.stderr ?? null,
        meanCost: costSum / n,
        usedBudget: used / n,
        meanTokens: tokens / n,
        resamples,
        seconds: (performance.now() - t0) / 1000,
      };
      summaries.push(s);
      log(
        `(b) ${s.label}: ${n} answers, ${overBudget} over budget, ${fallbacks} fallbacks, reward ${s.meanReward.toFixed(4)}` +
          (s.rewardDiff === null ? "" : ` (paired diff ${signed(s.rewardDiff)} ± ${s.rewardDiffStderr!.toFixed(4)})`) +
          `, mean cost ${s.meanCost.toFixed(3)}`,
      );
    }
    progress.finish();
    return summaries;
  } finally {
    await engine.dispose();
  }
}
