// OpenAI-shaped response objects, stream chunks and errors, plus the `guard` summary that every
// answer carries (final cost, budget, whether the search fell back, ...).
import { randomBytes } from "node:crypto";
import type { GenerationResult, StopReason, TraceBlock } from "../search/types.js";
import type { ClientTraceBlock } from "./clientPolicy.js";

export type FinishReason = "stop" | "length" | "content_filter";

export interface GuardSummary {
  method: string;
  costModel: string;
  cost: number;
  budget: number | null;
  withinBudget: boolean;
  fallback: boolean;
  resamples: number;
  stopReason: StopReason;
  seed: number;
  reward: number;
  seconds: number;
  warning?: string;
  /** Only when the client asked and the operator allows: redacted (ClientTraceBlock) unless --allow-client-trace-unsafe-text. */
  trace?: TraceBlock[] | ClientTraceBlock[];
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/**
 * The answer ended by the search cutting it short for safety is OpenAI's "content_filter"; by
 * max_tokens or by the context (guard.stopReason tells which), "length".
 */
export function finishReason(result: GenerationResult): FinishReason {
  if (result.fallback) return "content_filter";
  return result.stopReason === "max-tokens" || result.stopReason === "context" ? "length" : "stop";
}

export function guardSummary(result: GenerationResult, costModel: string): GuardSummary {
  return {
    method: result.method,
    costModel,
    cost: result.cost,
    budget: result.budget,
    withinBudget: result.withinBudget,
    fallback: result.fallback,
    resamples: result.resamples,
    stopReason: result.stopReason,
    seed: result.seed,
    reward: result.reward,
    seconds: result.seconds,
    ...(result.warning !== undefined ? { warning: result.warning } : {}),
    ...(result.trace ? { trace: result.trace } : {}),
  };
}

export function usage(promptTokens: number, result: GenerationResult): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: result.tokens, total_tokens: promptTokens + result.tokens };
}

export type Endpoint = "chat" | "completion";

/** The fields every object of one response shares (its chunks carry the same id and created). */
export interface ResponseIdentity {
  id: string;
  created: number;
  model: string;
}

export function newIdentity(endpoint: Endpoint, model: string): ResponseIdentity {
  return { id: `${endpoint === "chat" ? "chatcmpl" : "cmpl"}-${randomBytes(12).toString("hex")}`, created: Math.floor(Date.now() / 1000), model };
}

export function fullResponse(endpoint: Endpoint, who: ResponseIdentity, result: GenerationResult, promptTokens: number, costModel: string): object {
  const finish_reason = finishReason(result);
  const choice =
    endpoint === "chat"
      ? { index: 0, message: { role: "assistant", content: result.text, refusal: null }, logprobs: null, finish_reason }
      : { index: 0, text: result.text, logprobs: null, finish_reason };
  return {
    ...who,
    object: endpoint === "chat" ? "chat.completion" : "text_completion",
    choices: [choice],
    usage: usage(promptTokens, result),
    guard: guardSummary(result, costModel),
  };
}

/** One streamed piece of committed text (the first chat chunk also carries the role). */
export function textChunk(endpoint: Endpoint, who: ResponseIdentity, text: string, first: boolean): object {
  if (endpoint === "chat") {
    const delta = first ? { role: "assistant", content: text } : { content: text };
    return { ...who, object: "chat.completion.chunk", choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] };
  }
  return { ...who, object: "text_completion", choices: [{ index: 0, text, logprobs: null, finish_reason: null }] };
}

/**
 * The chunks that end a stream: the finish reason, then (when the client asked for usage) OpenAI's
 * usage chunk with no choices. The guard summary rides on the last of them, just before [DONE].
 */
export function closingChunks(
  endpoint: Endpoint,
  who: ResponseIdentity,
  result: GenerationResult,
  promptTokens: number,
  costModel: string,
  includeUsage: boolean,
  sentRole: boolean,
): object[] {
  const finish_reason = finishReason(result);
  const object = endpoint === "chat" ? "chat.completion.chunk" : "text_completion";
  const choice =
    endpoint === "chat"
      ? { index: 0, delta: sentRole ? {} : { role: "assistant", content: "" }, logprobs: null, finish_reason }
      : { index: 0, text: "", logprobs: null, finish_reason };
  const guard = guardSummary(result, costModel);
  if (!includeUsage) return [{ ...who, object, choices: [choice], guard }];
  return [
    { ...who, object, choices: [choice] },
    { ...who, object, choices: [], usage: usage(promptTokens, result), guard },
  ];
}

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "server_shutting_down"
  | "server_error";

export function errorBody(message: string, type: ErrorType, code: string | null = null, param: string | null = null): object {
  return { error: { message, type, param, code } };
}

export function errorTypeForStatus(status: number): ErrorType {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status === 503) return "server_shutting_down";
  return status >= 500 ? "server_error" : "invalid_request_error";
}
