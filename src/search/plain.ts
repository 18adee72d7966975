// Baselines on the same engine: plain temperature sampling and greedy decoding of one sequence.
// They report the cost of what they wrote but do not steer by it.
import type { CostModel } from "../cost/costModel.js";
import { DETOKENIZE_CONTEXT } from "../engine/constants.js";
import type { Decoder } from "../engine/decoder.js";
import { UserError } from "../errors.js";
import { parseOptions, samplingOptionsSchema, type SamplingOptions } from "./options.js";
import { packBias } from "./penalty.js";
import { isOverBudget } from "./safetyState.js";
import { deriveSeed, randomSeed } from "./seed.js";
import { StopSequences } from "./stop.js";
import { yieldToEventLoop } from "../util/yield.js";
import type { GenerationResult, StopReason } from "./types.js";

/** Tokens between two yields to the event loop (so aborts and timers get a turn). */
const YIELD_EVERY_TOKENS = 8;

export interface PlainRequest {
  engine: Decoder;
  promptTokens: readonly number[];
  method: "sample" | "greedy";
  options?: SamplingOptions;
  /** Only measured, never enforced. */
  cost?: CostModel;
  budget?: number;
  signal?: AbortSignal;
  /** Streaming: receives the text of each token as it is written (held back while it may begin a stop sequence). */
  onText?: (delta: string) => void;
}

export async function generatePlain(request: PlainRequest): Promise<GenerationResult> {
  const started = performance.now();
  const o = parseOptions(samplingOptionsSchema, request.options, "sampling options");
  const { engine, promptTokens } = request;
  if (promptTokens.length === 0) throw new UserError("the prompt is empty");
  if (promptTokens.length >= engine.info.trainContextSize) {
    throw new UserError(`the prompt has ${promptTokens.length} tokens; the model's context is ${engine.info.trainContextSize}`);
  }
  if (promptTokens.length >= engine.info.contextSize) {
    throw new UserError(`the prompt has ${promptTokens.length} tokens but the context holds ${engine.info.contextSize}: no room for an answer`);
  }
  // The context, not the cap, may end the answer (stopReason "context").
  const maxTokens = Math.min(o.maxTokens, engine.info.trainContextSize - promptTokens.length, engine.info.contextSize - promptTokens.length);
  const seed = o.seed ?? randomSeed();
  const params = { temperature: request.method === "greedy" ? 0 : o.temperature, topK: o.topK, topP: o.topP };

  engine.clear();
  const seq = 0;
  let row = await engine.prefill(seq, promptTokens);
  const tokens: number[] = [];
  let sumLogProb = 0;
  let text = "";
  let stopReason: StopReason = "max-tokens";
  const stops = new StopSequences(o.stop);
  /** Text already passed to onText. */
  let sent = 0;
  const rows = new Int32Array(1);
  const one = { tokens: new Int32Array(1), positions: new Int32Array(1), seqs: new Int32Array(1).fill(seq) };
  const sampled = { tokens: new Int32Array(1), logProbs: new Float32Array(1) };
  const bias = o.ignoreEos ? packBias([new Map(engine.endOfGenerationTokens().map((t) => [t, -Infinity]))]) : undefined;
  while (tokens.length < maxTokens) {
    if (tokens.length % YIELD_EVERY_TOKENS === 0) await yieldToEventLoop();
    if (request.signal?.aborted) {
      stopReason = "aborted";
      break;
    }
    rows[0] = row;
    engine.sample(rows, params, deriveSeed(seed, tokens.length), bias, sampled);
    const token = sampled.tokens[0];
    if (engine.isEndOfGeneration(token)) {
      stopReason = "eog";
      break;
    }
    // Pieces with their preceding tokens as context join exactly as the guard's blocks do.
    const piece = engine.detokenize([token], tokens.slice(-DETOKENIZE_CONTEXT));
    const checkedUpTo = text.length;
    text += piece;
    tokens.push(token);
    sumLogProb += sampled.logProbs[0];
    const stopAt = stops.find(text, checkedUpTo);
    if (stopAt >= 0) {
      text = text.slice(0, stopAt);
      stopReason = "stop-sequence";
      break;
    }
    // Text that may still turn out to begin a stop sequence waits.
    const safe = stops.safeLength(text);
    if (request.onText && safe > sent) {
      request.onText(text.slice(sent, safe));
      sent = safe;
    }
    one.tokens[0] = token;
    one.positions[0] = promptTokens.length + tokens.length - 1;
    await engine.step(one.tokens, one.positions, one.seqs);
    row = 0;
  }
  engine.release(seq);
  if (stopReason === "max-tokens" && maxTokens < o.maxTokens) stopReason = "context";
  if (request.onText && text.length > sent) request.onText(text.slice(sent));

  const cost = request.cost ? await request.cost.cost(text) : 0;
  const budget = request.budget ?? null;
  return {
    method: request.method,
    text,
    tokens: tokens.length,
    tokenIds: tokens,
    cost,
    budget,
    withinBudget: budget === null ? true : !isOverBudget(cost, budget),
    reward: tokens.length > 0 ? sumLogProb / tokens.length : 0,
    stopReason,
    fallback: false,
    resamples: 0,
    seed,
    seconds: (performance.now() - started) / 1000,
  };
}
