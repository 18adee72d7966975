// Trains a helpfulness reward head on a chat model's own hidden states (RE-Control style: a small
// value model on the policy's latents; here one logistic vector, the shape of a decoder reward
// model's score head, so the same file runs on the policy's states or on the backbone alone).
//
// Each (request, answer) example (src/reward/rewardData.ts) is rendered with the model's chat
// template and teacher-forced; the final hidden state is read at answer prefixes of the block
// lengths the search scores (8, 16, ... tokens) and at the whole answer, each labelled with the
// example's label: the search scores partial answers, and full-answer reward models are unreliable
// on prefixes. Held out by request: metrics are on requests the head never saw.
import { basename, dirname, resolve } from "node:path";
import { statSync } from "node:fs";
import { Engine } from "../engine/engine.js";
import { PrefixForward } from "../engine/prefixForward.js";
import { fileSha256 } from "../util/fileHash.js";
import { type FitOptions, fitLogistic } from "../util/logistic.js";
import { UserError } from "../errors.js";
import { rocAuc } from "../util/metrics.js";
import { mulberry32, shuffle } from "../util/random.js";
import { yieldToEventLoop } from "../util/yield.js";
import { recordedBackbonePath } from "./backbone.js";
import { HEAD_FORMAT, HEAD_FORMAT_VERSION, type HeadFile } from "./headFormat.js";
import { headLogit } from "./headReward.js";
import { DEFAULT_PER_QUESTION, PAIRED_KINDS, type RewardExample, buildRewardExamples, splitByGroup } from "./rewardData.js";

export interface TrainHeadOptions {
  modelPath: string;
  dataDir: string;
  /** Requests never trained on (normalised), e.g. the efficacy evaluation's. */
  exclude: ReadonlySet<string>;
  /** Where the head file will be written (its backbone path is stored relative to it). */
  outPath: string;
  seed: number;
  /** Share of the requests held out for the metrics. */
  heldOutFraction: number;
  /** Answer prefix lengths (tokens) read besides the whole answer. */
  prefixes: readonly number[];
  /** Answers are cut to this many tokens (the evaluation's answer length). */
  maxAnswerTokens: number;
  /** GPTFuzz answers per question and label (see RewardDataOptions.perQuestion). */
  perQuestion?: number;
  /** At most about this many examples: whole request groups drawn at random (a large model's feature pass is the cost). */
  maxExamples?: number;
  fit: FitOptions;
  threads: number;
  /** Stops between batches of the feature pass (nothing is written). */
  signal?: AbortSignal;
  onProgress?: (phase: "features" | "fit", done: number, total: number) => void;
}

export const TRAIN_HEAD_DEFAULTS = {
  seed: 1,
  heldOutFraction: 0.15,
  prefixes: [4, 8, 16, 24, 32, 48],
  maxAnswerTokens: 64,
  fit: { epochs: 30, learningRate: 0.01, l2: 1e-3, batchSize: 256 },
  threads: 1,
} as const;

export interface PairwiseMetric {
  pairs: number;
  /** Share of pairs where the helpful answer gets the higher reward (ties count one half). */
  accuracy: number;
}

export interface HeadMetrics {
  /** Held-out examples at the whole answer (or its first maxAnswerTokens). */
  examples: number;
  /** Helpful vs not, every held-out state (all prefixes). */
  aucAllPrefixes: number;
  /** Compliant vs refusal answers, whole answers. */
  aucComplianceVsRefusal: number;
  /** The same at the first 8 answer tokens (the first block). */
  aucComplianceVsRefusalAt8: number;
  /** Same request, helpful answer vs each kind of unhelpful one (hh-rlhf: chosen vs rejected), whole answers. */
  pairwise: Record<keyof typeof PAIRED_KINDS, PairwiseMetric>;
}

interface Row {
  example: number;
  /** Answer tokens in this state. */
  length: number;
  whole: boolean;
}

export async function trainRewardHead(o: TrainHeadOptions): Promise<{ head: HeadFile; metrics: { train: HeadMetrics; heldOut: HeadMetrics }; examples: number; seconds: number }> {
  const started = performance.now();
  const examples = subsampleGroups(buildRewardExamples({ dataDir: o.dataDir, exclude: o.exclude, seed: o.seed, perQuestion: o.perQuestion }), o.maxExamples, o.seed);
  const { train, heldOut } = splitByGroup(examples, o.heldOutFraction, o.seed);
  const all = [...train, ...heldOut];
  const engine = await Engine.load({ modelPath: o.modelPath, threads: o.threads, contextSize: 4096, maxSequences: 65 });
  const d = engine.info.nEmbd;
  const rows: Row[] = [];
  let X: Float32Array;
  try {
    const forward = new PrefixForward(engine, { output: { kind: "hidden", pooling: "last" }, reuse: false });
    const sequences: number[][] = [];
    all.forEach((e, i) => {
      const prompt = engine.chatPrompt([{ role: "user", content: e.request }]);
      const answer = engine.tokenize(e.answer).slice(0, o.maxAnswerTokens);
      const lengths = [...new Set([...o.prefixes.filter((l) => l < answer.length), answer.length])];
      for (const length of lengths) {
        rows.push({ example: i, length, whole: length === answer.length });
        sequences.push(prompt.concat(answer.slice(0, length)));
      }
    });
    X = new Float32Array(rows.length * d);
    const chunk = 64;
    for (let at = 0; at < sequences.length; at += chunk) {
      if (o.signal?.aborted) throw new UserError("train-reward was stopped before it finished; nothing was written");
      await yieldToEventLoop();
      const states = forward.run(sequences.slice(at, at + chunk));
      states.forEach((h, k) => X.set(h, (at + k) * d));
      o.onProgress?.("features", Math.min(sequences.length, at + chunk), sequences.length);
    }
  } finally {
    await engine.dispose();
  }
  const y = Uint8Array.from(rows, (r) => all[r.example]!.label);
  const trainRows = rows.flatMap((r, i) => (r.example < train.length ? [i] : []));
  let epoch = 0;
  const model = fitLogistic(X, d, y, trainRows, o.fit, o.seed, () => o.onProgress?.("fit", ++epoch, o.fit.epochs));
  // Fold the standardisation in: reward = w . h + b on raw hidden states.
  const w = new Float32Array(d);
  let b = model.b;
  for (let j = 0; j < d; j++) {
    w[j] = model.w[j] / model.std[j];
    b -= w[j] * model.mean[j];
  }
  const reward = Float64Array.from(rows, (_, i) => headLogit(w, b, X.subarray(i * d, (i + 1) * d)));
  const metricsOf = (inSplit: (example: number) => boolean): HeadMetrics => headMetrics(all, rows, reward, inSplit);
  const metrics = { train: metricsOf((i) => i < train.length), heldOut: metricsOf((i) => i >= train.length) };

  const outDir = dirname(resolve(o.outPath));
  const modelPath = resolve(o.modelPath);
  const counts = (list: RewardExample[]) => Object.fromEntries(["compliant", "refusal", "off-topic", "salad", "hh-chosen", "hh-rejected"].map((k) => [k, list.filter((e) => e.kind === k).length]));
  const head: HeadFile = {
    format: HEAD_FORMAT,
    formatVersion: HEAD_FORMAT_VERSION,
    backbone: { file: basename(modelPath), path: recordedBackbonePath(outDir, modelPath), sha256: await fileSha256(modelPath), size: statSync(modelPath).size, nEmbd: d },
    render: "chat",
    weights: Array.from(w),
    bias: b,
    metrics: metrics as unknown as Record<string, unknown>,
    training: {
      data: { train: counts(train), heldOut: counts(heldOut), sources: [...new Set(all.map((e) => e.source))].sort(), excludedRequests: o.exclude.size },
      states: { train: trainRows.length, heldOut: rows.length - trainRows.length },
      prefixes: [...o.prefixes],
      maxAnswerTokens: o.maxAnswerTokens,
      perQuestion: o.perQuestion ?? DEFAULT_PER_QUESTION,
      ...(o.maxExamples !== undefined ? { maxExamples: o.maxExamples } : {}),
      fit: { ...o.fit },
      seed: o.seed,
      heldOutFraction: o.heldOutFraction,
    },
  };
  // The fit is synchronous: a stop that arrived during it is delivered now, and nothing is written.
  await yieldToEventLoop();
  if (o.signal?.aborted) throw new UserError("train-reward was stopped before it finished; nothing was written");
  return { head, metrics, examples: all.length, seconds: (performance.now() - started) / 1000 };
}

/** About `max` examples in whole request groups (seeded), so same-request pairs stay together; all when max is undefined. */
export function subsampleGroups(examples: RewardExample[], max: number | undefined, seed: number): RewardExample[] {
  if (max === undefined || examples.length <= max) return examples;
  const groups = [...new Set(examples.map((e) => e.group))].sort();
  shuffle(groups, mulberry32(seed * 131 + 17));
  const size = new Map<string, number>();
  for (const e of examples) size.set(e.group, (size.get(e.group) ?? 0) + 1);
  const kept = new Set<string>();
  let n = 0;
  for (const g of groups) {
    if (n >= max) break;
    kept.add(g);
    n += size.get(g)!;
  }
  return examples.filter((e) => kept.has(e.group));
}

/** Metrics over the examples `inSplit` keeps (see HeadMetrics). */
export function headMetrics(all: readonly RewardExample[], rows: readonly Row[], reward: ArrayLike<number>, inSplit: (example: number) => boolean): HeadMetrics {
  const idx = rows.map((_, i) => i).filter((i) => inSplit(rows[i]!.example));
  const auc = (keep: (i: number) => boolean): number => {
    const sel = idx.filter(keep);
    return round4(rocAuc(sel.map((i) => reward[i]!), sel.map((i) => all[rows[i]!.example]!.label)));
  };
  const kindOf = (i: number) => all[rows[i]!.example]!.kind;
  const whole = idx.filter((i) => rows[i]!.whole);
  const byGroup = new Map<string, number[]>();
  for (const i of whole) {
    const g = all[rows[i]!.example]!.group;
    byGroup.set(g, [...(byGroup.get(g) ?? []), i]);
  }
  const pairwise = {} as HeadMetrics["pairwise"];
  for (const [kind, goodKind] of Object.entries(PAIRED_KINDS) as [keyof typeof PAIRED_KINDS, string][]) {
    let pairs = 0;
    let wins = 0;
    for (const members of byGroup.values()) {
      const good = members.filter((i) => kindOf(i) === goodKind);
      const bad = members.filter((i) => kindOf(i) === kind);
      for (const g of good) {
        for (const x of bad) {
          pairs++;
          wins += reward[g]! > reward[x]! ? 1 : reward[g] === reward[x] ? 0.5 : 0;
        }
      }
    }
    pairwise[kind] = { pairs, accuracy: pairs === 0 ? NaN : round4(wins / pairs) };
  }
  const cr = (i: number) => kindOf(i) === "compliant" || kindOf(i) === "refusal";
  return {
    examples: whole.length,
    aucAllPrefixes: auc(() => true),
    aucComplianceVsRefusal: auc((i) => rows[i]!.whole && cr(i)),
    aucComplianceVsRefusalAt8: auc((i) => rows[i]!.length === 8 && cr(i)),
    pairwise,
  };
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
