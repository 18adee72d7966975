// Training a critic for a model: sample (or reuse) rollouts (trainingRollouts.ts), label their
// states, hold out some prompts for validation, train the MLP with the native trainer, checkpoint
// every epoch, and write a critic file with its training metadata.
//
// Resuming: after every epoch the weights, Adam state and epoch go to `<out>.ckpt` (atomically).
// A run whose checkpoint exists continues after its last completed epoch; every epoch's shuffle is
// seeded by (seed, epoch), so a resumed run ends with the same weights, bit for bit, as an
// uninterrupted one. The checkpoint is removed once the critic file is written.
import { createHash } from "node:crypto";
import { rmSync, statSync } from "node:fs";
import { basename } from "node:path";
import { z } from "zod";
import { randomCriticSpec } from "./critic.js";
import { CRITIC_ACTIVATIONS, type CriticSpec, writeCriticFile } from "./format.js";
import { sigmoid } from "../util/logistic.js";
import { fileSha256 } from "../util/fileHash.js";
import { UserError } from "../errors.js";
import { parseOptions } from "../errors.js";
import { resolveModel } from "../models/index.js";
import { deriveSeed } from "../search/seed.js";
import { RUNTIME_SETTINGS, SEARCH_SETTINGS } from "../settings.js";
import { Progress } from "../util/progress.js";
import { type EpochMetrics, readCheckpoint, writeCheckpoint } from "./criticCheckpoint.js";
import { buildCriticRows, type CriticRows, inputNormalization, splitPrompts } from "./criticDataset.js";
import { createCriticTrainer, type NativeCriticTrainer, seedHalves } from "./criticTrainer.js";
import { brierScore, expectedCalibrationError, rocAuc } from "../util/metrics.js";
import { rolloutDigest, type RolloutSet } from "./rolloutFile.js";
import { obtainRollouts } from "./trainingRollouts.js";

/** Counter that keeps the shuffle seeds apart from other streams derived from the same seed. */
const SHUFFLE_STREAM = 0x5348;

export const trainCriticOptionsSchema = z
  .object({
    /** GGUF model whose hidden states the critic reads. */
    model: z.string().min(1),
    /** Training prompts (JSON Lines {"prompt"}); required unless `rollouts` names an existing file. */
    prompts: z.string().min(1).optional(),
    /** Render the prompts with the model's chat template (instruction models). */
    chat: z.boolean().default(false),
    /** Cost model spec, e.g. "rules:models/conflict-lexicon.json". */
    cost: z.string().min(1),
    /** Reward spec of the value labels (default: the guard's default for the prompt kind). */
    reward: z.string().min(1).optional(),
    /** Critic file to write; the checkpoint goes to `<out>.ckpt`. */
    out: z.string().min(1),
    /** Rollout file: reused when it exists, else sampled and saved there. */
    rollouts: z.string().min(1).optional(),
    rolloutsPerPrompt: z.int().min(1).max(256).default(16),
    // The search settings a critic is trained under: their ranges and defaults are the guard's
    // (src/settings.ts); rollouts are 128 tokens unless told otherwise.
    budget: SEARCH_SETTINGS.budget.schema,
    width: SEARCH_SETTINGS.width.schema,
    maxTokens: SEARCH_SETTINGS.maxTokens.base.default(128),
    temperature: SEARCH_SETTINGS.temperature.schema,
    epochs: z.int().min(1).max(100_000).default(15),
    lr: z.number().positive().max(10).default(1e-3),
    batch: z.int().min(1).max(65_536).default(128),
    hidden: z.array(z.int().min(1).max(65_536)).max(16).default([32]),
    activation: z.enum(CRITIC_ACTIVATIONS).default("tanh"),
    seed: SEARCH_SETTINGS.seed.base.default(1),
    /** Share of the prompts held out for validation (0 = none). */
    validationFraction: z.number().min(0).max(0.9).default(0.2),
    gamma: z.number().gt(0).max(1).default(0.999),
    /** Return of a rollout that ends over budget: -violationPenalty (the guard's setting, and its default). */
    violationPenalty: SEARCH_SETTINGS.violationPenalty.schema,
    weightDecay: z.number().min(0).max(10).default(0.5),
    safetyWeight: z.number().min(0).default(1),
    valueWeight: z.number().min(0).default(0.1),
    threads: RUNTIME_SETTINGS.threads.schema,
    /** Recorded in the critic file. */
    command: z.array(z.string()).optional(),
  })
  .strict();

export type TrainCriticOptions = z.input<typeof trainCriticOptionsSchema>;
export type ResolvedTrainCriticOptions = z.output<typeof trainCriticOptionsSchema>;

export interface TrainCriticHooks {
  /** One line per event (rollouts ready, each epoch's metrics, the file written). */
  log?: (line: string) => void;
  /** Where progress bars go (default stderr); null for none. */
  progressStream?: NodeJS.WritableStream | null;
  /** Checked after every epoch (once its checkpoint is written): stops the run there. */
  signal?: AbortSignal;
  /** Called after every completed epoch (after its checkpoint). */
  onEpoch?: (metrics: EpochMetrics) => void;
}

export interface TrainCriticResult {
  /** The critic file written; undefined when the run was stopped by the signal. */
  out?: string;
  spec?: CriticSpec;
  epochsDone: number;
  resumedFrom: number;
  history: EpochMetrics[];
  trainRows: number;
  validationRows: number;
}

export function checkpointPath(out: string): string {
  return `${out}.ckpt`;
}

export async function trainCritic(options: TrainCriticOptions, hooks: TrainCriticHooks = {}): Promise<TrainCriticResult> {
  const parsed = parseOptions(trainCriticOptionsSchema, options, "train-critic options");
  // A known model's name (smollm2-135m-instruct) is its fetched file; the critic records that file.
  const o = { ...parsed, model: resolveModel(parsed.model) };
  const log = hooks.log ?? (() => undefined);
  const progressStream = hooks.progressStream === null ? undefined : (hooks.progressStream ?? process.stderr);
  if (o.out.endsWith(".ckpt")) throw new UserError(`--out ${o.out}: pick a critic file name (the checkpoint goes to <out>.ckpt)`);
  const modelSha256 = await modelFileSha256(o.model);

  const rollouts = await obtainRollouts(o, modelSha256, progressStream, log);
  const { header } = rollouts;
  const split = splitPrompts(header.prompts.length, o.validationFraction, o.seed);
  const labels = { budget: o.budget, gamma: o.gamma, violationPenalty: o.violationPenalty };
  const train = buildCriticRows(rollouts, labels, (p) => split.train.has(p));
  const validation = buildCriticRows(rollouts, labels, (p) => split.validation.has(p));
  if (train.rows === 0) throw new UserError("no training states within budget: lower --budget's strictness or sample more rollouts");
  const unsafeShare = 1 - mean(train.ySafe);
  log(
    `data: ${header.rollouts.length} rollouts of ${header.prompts.length} prompts; ${train.rows} training states ` +
      `(${split.train.size} prompts), ${validation.rows} validation states (${split.validation.size} prompts); ` +
      `${(100 * unsafeShare).toFixed(1)}% of training states end over budget ${o.budget}`,
  );
  const { mean: normMean, std: normStd } = inputNormalization(train);

  const nEmbd = header.model.nEmbd;
  const init = randomCriticSpec({ nEmbd, hidden: o.hidden, activation: o.activation, seed: o.seed });
  const trainer = createCriticTrainer({
    inputDim: nEmbd + 1,
    hidden: o.hidden,
    activation: o.activation,
    weights: init.weights,
    mean: normMean,
    std: normStd,
    lr: o.lr,
    weightDecay: o.weightDecay,
    safetyWeight: o.safetyWeight,
    valueWeight: o.valueWeight,
    maxBatch: Math.max(o.batch, 256),
  });

  const fingerprint = runFingerprint(o, rollouts);
  const ckptPath = checkpointPath(o.out);
  let history: EpochMetrics[] = [];
  let resumedFrom = 0;
  const saved = readCheckpoint(ckptPath);
  if (saved) {
    if (saved.fingerprint !== fingerprint) {
      throw new UserError(`checkpoint ${ckptPath} belongs to a run with other data or settings: rerun with the same arguments, or delete it to start over`);
    }
    if (saved.epoch > o.epochs) throw new UserError(`checkpoint ${ckptPath} is at epoch ${saved.epoch}, past --epochs ${o.epochs}`);
    if (saved.nextShuffleSeed !== shuffleSeedHex(o.seed, saved.epoch + 1)) throw new UserError(`checkpoint ${ckptPath} has an inconsistent shuffle seed (delete it to start over)`);
    trainer.setWeights(saved.weights);
    trainer.setAdamState(saved.adam);
    history = saved.history;
    resumedFrom = saved.epoch;
    log(`resuming from ${ckptPath} after epoch ${saved.epoch}`);
  }

  const progress = progressStream ? new Progress(o.epochs, { unit: "epochs", label: "train-critic", stream: progressStream }) : undefined;
  progress?.resumeAt(resumedFrom);
  let epoch = resumedFrom;
  while (epoch < o.epochs) {
    if (hooks.signal?.aborted) break;
    epoch++;
    const { hi, lo } = seedHalves(shuffleSeed(o.seed, epoch));
    const trained = trainer.trainEpoch(train.hidden, train.z, train.ySafe, train.yValue, train.rows, o.batch, hi, lo);
    if (!Number.isFinite(trained.loss)) throw new UserError(`training diverged at epoch ${epoch} (loss ${trained.loss}): lower --lr`);
    const metrics: EpochMetrics = { epoch, trainLoss: trained.loss, ...validationMetrics(trainer, validation) };
    history.push(metrics);
    writeCheckpoint(ckptPath, {
      fingerprint,
      epoch,
      nextShuffleSeed: shuffleSeedHex(o.seed, epoch + 1),
      weights: trainer.getWeights(),
      adam: trainer.getAdamState(),
      history,
    });
    log(formatEpoch(metrics, o.epochs));
    progress?.tick(1, `loss ${trained.loss.toFixed(4)}`);
    hooks.onEpoch?.(metrics);
  }
  progress?.finish();
  if (epoch < o.epochs) {
    log(`stopped after epoch ${epoch}; rerun the same command to resume from ${ckptPath}`);
    return { epochsDone: epoch, resumedFrom, history, trainRows: train.rows, validationRows: validation.rows };
  }

  const final = history[history.length - 1];
  const spec: CriticSpec = randomCriticSpec({
    nEmbd,
    hidden: o.hidden,
    activation: o.activation,
    seed: o.seed,
    model: { name: basename(o.model), file: basename(o.model), nEmbd, nVocab: header.model.nVocab, sha256: modelSha256 },
    normalization: { mean: normMean, std: normStd },
    training: {
      epochs: o.epochs,
      lr: o.lr,
      seed: o.seed,
      budget: o.budget,
      createdAt: new Date().toISOString(),
      ...(o.command ? { command: o.command } : {}),
      metrics: {
        trainLoss: final.trainLoss,
        valLoss: final.valLoss,
        valAuc: final.valAuc,
        valEce: final.valEce,
        valBrier: final.valBrier,
        trainRows: train.rows,
        validationRows: validation.rows,
        trainUnsafeShare: unsafeShare,
      },
      batch: o.batch,
      weightDecay: o.weightDecay,
      gamma: o.gamma,
      violationPenalty: o.violationPenalty,
      safetyWeight: o.safetyWeight,
      valueWeight: o.valueWeight,
      validationFraction: o.validationFraction,
      width: header.width,
      maxTokens: header.maxTokens,
      rolloutsPerPrompt: header.rolloutsPerPrompt,
      rolloutSeed: header.seed,
      cost: header.cost.spec,
      prompts: header.prompts.length,
      rolloutsSha256: rolloutDigest(rollouts),
      features: "[last-layer hidden state of the block's last token, z = 1 - cost/budget]",
    },
  });
  spec.weights = trainer.getWeights();
  writeCriticFile(o.out, spec);
  rmSync(ckptPath, { force: true });
  log(`wrote ${o.out} (${o.hidden.join("-") || "linear"} ${o.activation}, epoch ${epoch}, val AUC ${fmt(final.valAuc)})`);
  return { out: o.out, spec, epochsDone: epoch, resumedFrom, history, trainRows: train.rows, validationRows: validation.rows };
}

async function modelFileSha256(path: string): Promise<string> {
  try {
    if (!statSync(path).isFile()) throw new UserError(`model path is not a file: ${path}`);
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`model file not found: ${path}`);
  }
  return fileSha256(path);
}

function shuffleSeed(seed: number, epoch: number): bigint {
  return deriveSeed(seed, SHUFFLE_STREAM, epoch);
}

function shuffleSeedHex(seed: number, epoch: number): string {
  return shuffleSeed(seed, epoch).toString(16).padStart(16, "0");
}

/** Everything that shapes the weights except the epoch count (so a run may be extended). */
function runFingerprint(o: ResolvedTrainCriticOptions, rollouts: RolloutSet): string {
  const config = {
    rollouts: rolloutDigest(rollouts),
    budget: o.budget,
    gamma: o.gamma,
    violationPenalty: o.violationPenalty,
    hidden: o.hidden,
    activation: o.activation,
    lr: o.lr,
    batch: o.batch,
    weightDecay: o.weightDecay,
    safetyWeight: o.safetyWeight,
    valueWeight: o.valueWeight,
    seed: o.seed,
    validationFraction: o.validationFraction,
  };
  return createHash("sha256").update(JSON.stringify(config)).digest("hex");
}

interface ValidationMetrics {
  valLoss: number | null;
  valAuc: number | null;
  valEce: number | null;
  valBrier: number | null;
  valSafetyLoss?: number;
  valValueLoss?: number;
}

function validationMetrics(trainer: NativeCriticTrainer, v: CriticRows): ValidationMetrics {
  if (v.rows === 0) return { valLoss: null, valAuc: null, valEce: null, valBrier: null };
  const logits = new Float32Array(v.rows);
  const values = new Float32Array(v.rows);
  const loss = trainer.evaluate(v.hidden, v.z, v.ySafe, v.yValue, v.rows, logits, values);
  const probs = Float64Array.from(logits, sigmoid);
  const auc = rocAuc(probs, v.ySafe);
  return {
    valLoss: loss.loss,
    valAuc: Number.isNaN(auc) ? null : auc,
    valEce: expectedCalibrationError(probs, v.ySafe),
    valBrier: brierScore(probs, v.ySafe),
    valSafetyLoss: loss.safetyLoss,
    valValueLoss: loss.valueLoss,
  };
}

function formatEpoch(m: EpochMetrics, epochs: number): string {
  return (
    `epoch ${String(m.epoch).padStart(String(epochs).length)}/${epochs}  train loss ${m.trainLoss.toFixed(4)}  ` +
    `val loss ${fmt(m.valLoss)}  val AUC ${fmt(m.valAuc)}  ECE ${fmt(m.valEce)}  Brier ${fmt(m.valBrier)}`
  );
}

function fmt(x: number | null | undefined): string {
  return x === null || x === undefined ? "n/a" : x.toFixed(4);
}

function mean(a: Float32Array): number {
  let s = 0;
  for (const x of a) s += x;
  return a.length > 0 ? s / a.length : NaN;
}
