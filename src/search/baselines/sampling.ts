// Batched ancestral sampling: N answers to one prompt in parallel, one decode per token step for
// all of them. The prompt is decoded once and forked (the answers share its KV cells, and each
// other's while they agree). Best-of-N builds on it; one answer is generatePlain's (see below).
import type { CostModel } from "../../cost/costModel.js";
import type { Decoder } from "../../engine/decoder.js";
import type { SampleParams } from "../../native.js";
import { UserError } from "../../errors.js";
import { deriveSeed } from "../seed.js";
import { SequencePool } from "../../engine/sequencePool.js";
import type { StopReason } from "../types.js";
import { definedOnly } from "../../util/objects.js";
import type { SamplingOptions } from "../options.js";
import { generatePlain } from "../plain.js";
import { answerTokenLimit, assertEngineFits, type BaselineResult } from "./result.js";
import { answerStop, growTree } from "../tree.js";

export interface SampledAnswer {
  tokens: number[];
  sumLogProb: number;
  stopReason: StopReason;
  /** How many of the n draws produced exactly this answer. */
  count: number;
  /** With captureHidden: the hidden state of its last token (a reward head reads it). */
  hidden?: Float32Array;
}

export interface SampleRequest {
  engine: Decoder;
  promptTokens: readonly number[];
  /** Answers to draw. */
  n: number;
  params: SampleParams;
  seed: number;
  maxTokens: number;
  signal?: AbortSignal;
  /** Copy each answer's last hidden state (for a reward model that reads the base model's states). */
  captureHidden?: boolean;
}

/**
 * Draws `n` answers as one prefix tree (see tree.ts): identical answers come out once, with their
 * count. Token step t is seeded by (seed, t) and each draw is its own entry, so with n = 1 the
 * answer is exactly generatePlain's.
 */
export async function sampleAnswers(request: SampleRequest): Promise<SampledAnswer[]> {
  const { engine, promptTokens, n, params, seed } = request;
  if (!Number.isInteger(n) || n < 1) throw new UserError(`the number of answers must be a positive integer (got ${n})`);
  const maxTokens = answerTokenLimit(engine, promptTokens.length, request.maxTokens);
  assertEngineFits(engine, `sampling ${n} answers`, { sequences: n + 1, rows: n, cells: promptTokens.length + n * maxTokens });
  engine.clear();
  const pool = new SequencePool(engine, engine.info.maxSequences);
  const root = pool.acquire();
  const row = await engine.prefill(root, promptTokens);
  const leaves = await growTree(engine, pool, [{ seq: root, row, pos: promptTokens.length, written: 0, draws: n }], {
    width: maxTokens,
    maxTokens,
    params,
    seedAt: (t) => deriveSeed(seed, t),
    signal: request.signal,
    captureHidden: request.captureHidden,
  });
  engine.clear();
  return leaves.map((l) => ({ tokens: l.tokens, sumLogProb: l.sumLogProb, stopReason: answerStop(l.stop) ?? "max-tokens", count: l.count, ...(l.hidden ? { hidden: l.hidden } : {}) }));
}

export interface SingleAnswerRequest {
  engine: Decoder;
  promptTokens: readonly number[];
  seed: number;
  maxTokens: number;
  /** Sampling temperature (ignored by greedy). Default 1. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Measured on the answer, never steered by. */
  cost?: CostModel;
  budget?: number;
  signal?: AbortSignal;
}

// Greedy and single-answer sampling have one implementation, generatePlain (what
// guard.generate's "sample" and "greedy" methods run); these adapt it to the baselines' request.

/** Greedy decoding: the most likely token at every step. */
export function generateGreedy(request: SingleAnswerRequest): Promise<BaselineResult> {
  return single("greedy", request, {});
}

/** Temperature sampling of one answer. */
export function generateSample(request: SingleAnswerRequest): Promise<BaselineResult> {
  return single("sample", request, { temperature: request.temperature, topK: request.topK, topP: request.topP });
}

function single(method: "greedy" | "sample", request: SingleAnswerRequest, params: Pick<SamplingOptions, "temperature" | "topK" | "topP">): Promise<BaselineResult> {
  const { engine, promptTokens, seed, maxTokens, cost, budget, signal } = request;
  return generatePlain({ engine, promptTokens, method, options: definedOnly({ ...params, seed, maxTokens }), cost, budget, signal });
}
