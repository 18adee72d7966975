// One generation request, from a validated body to its answer, in the order it happens:
//   1. check what it asks for against this server (reward and cost names, the operator's
//      ceilings, shutdown, a full queue) before anything is queued: each a plain 4xx/503;
//   2. watch the client, so that its generation stops (or leaves the queue) when it goes away;
//   3. queue the generation and answer it, whole or as SSE (streamed text goes out as the search
//      commits it, the echoed prompt first), after writing the operator's audit record;
//   4. turn a failure into the status it calls for, or into an error event once streaming began.
// Each request is one log line (never prompt text).
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ChatMessage } from "../createGuard.js";
import { UserError } from "../errors.js";
import { resolveRequestSettings, type ResolvedRequestSettings } from "../request/guardSettings.js";
import type { GenerationResult } from "../search/types.js";
import { redactTrace, type ClientPolicy } from "./clientPolicy.js";
import { HttpError } from "./httpError.js";
import { DequeuedError, QueueClosedError, QueueFullError } from "./jobQueue.js";
import { stopSequences } from "./requestSchemas.js";
import { closingChunks, errorBody, errorTypeForStatus, fullResponse, newIdentity, textChunk, type Endpoint, type ResponseIdentity } from "./responses.js";
import { SseStream } from "./sse.js";
import type { CancelReason, ServerState } from "./state.js";

/** The fields both endpoints share, as the routes pass them on. */
export interface StandardFields {
  model: string;
  max_tokens?: number | null;
  /** Which request field max_tokens came from (for messages). */
  maxTokensField: string;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  user?: string | null;
  /** Completions: the prompt comes back before the answer. */
  echo: boolean;
  ignore_eos?: boolean;
  guard?: Parameters<typeof resolveRequestSettings>[0];
}

const SAMPLING_FIELD_NAMES = { maxTokens: "max_tokens", temperature: "temperature", topP: "top_p", seed: "seed", stop: "stop", ignoreEos: "ignore_eos" };

/** Validates what the body asks for, queues the generation and answers (streamed or whole). */
export async function answer(
  state: ServerState,
  endpoint: Endpoint,
  input: string | ChatMessage[],
  body: StandardFields,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const started = performance.now();
  const plan = checkRequest(state, endpoint, body);
  const client = watchClient(state, reply);
  const out = new AnswerOutput(endpoint, state.modelId, body, input, reply);
  const job: Job = { state, reply, out, plan, signal: client.signal, log: requestLog(state, request, body, out, started) };
  try {
    const { result, promptTokens } = await state.queue.run(() => generate(state, input, endpoint, plan.searched, client.signal, out.onText), client.signal);
    if (state.audit) await writeAudit(state, out.who, endpoint, input, body, plan, result);
    return deliver(job, result, promptTokens, body.stream_options?.include_usage === true);
  } catch (error) {
    return fail(job, error);
  } finally {
    client.release();
  }
}

/** What a request was found to ask for: its settings as the search runs them, and the cost model they pick. */
interface Plan {
  searched: ResolvedRequestSettings;
  costName: string;
  /** The client asked for the trace (and may: the policy passed the request). */
  clientTrace: boolean;
}

/** One request on its way through the queue: what deliver() and fail() need. */
interface Job {
  state: ServerState;
  reply: FastifyReply;
  out: AnswerOutput;
  plan: Plan;
  signal: AbortSignal;
  log(status: number, note: string): void;
}

/** Step 1: the 400, 429 or 503 a request gets before anything is queued, or its plan. */
function checkRequest(state: ServerState, endpoint: Endpoint, body: StandardFields): Plan {
  // Any model name: one model is served (as llama.cpp's server does); responses name the real one.
  const settings = resolveRequestSettings(
    body.guard,
    {
      maxTokens: body.max_tokens ?? undefined,
      temperature: body.temperature ?? undefined,
      topP: body.top_p ?? undefined,
      seed: body.seed ?? undefined,
      stop: stopSequences(body.stop),
      ignoreEos: body.ignore_eos,
    },
    state.defaults,
    SAMPLING_FIELD_NAMES,
  );
  if ("error" in settings) throw new HttpError(400, `invalid request: ${settings.error}`, "invalid_request");
  const rewardName = settings.options.rewardName;
  if (rewardName !== undefined && !state.guard.rewardNames.includes(rewardName)) {
    throw new HttpError(400, `unknown reward model ${JSON.stringify(rewardName)}: this server offers ${state.guard.rewardNames.join(", ")}`, "unknown_reward_model", "guard.reward");
  }
  if (settings.costName !== undefined && !state.costs.has(settings.costName)) {
    throw new HttpError(400, `unknown cost model ${JSON.stringify(settings.costName)}: this server offers ${state.costs.names().join(", ")}`, "unknown_cost_model", "guard.cost");
  }
  const chat = endpoint === "chat";
  const costName = state.costs.select(settings.costName, chat).name;
  const looser = state.policy.check({
    chat,
    guard: body.guard,
    maxTokens: body.max_tokens != null ? { field: body.maxTokensField, value: body.max_tokens } : undefined,
    costName,
  });
  if (looser) throw new HttpError(400, `invalid request: ${looser.message}`, looser.code, looser.param);
  // The search records a trace when the client may see one (the policy allowed its request) or
  // the operator audits; what the client gets of it is decided after the answer.
  const clientTrace = body.guard?.trace === true;
  const searched: ResolvedRequestSettings = { ...settings, options: { ...settings.options, trace: clientTrace || state.audit !== undefined } };
  if (state.shuttingDown) throw new HttpError(503, "the server is shutting down", "shutting_down");
  if (state.queue.full) throw busy(state);
  return { searched, costName, clientTrace };
}

/**
 * Step 2: the response closing before we ended it means the client went away: stop its generation
 * (or drop it from the queue) so its sequences and its slot go to the next request. Shutdown
 * cancels it through `state.active`.
 */
function watchClient(state: ServerState, reply: FastifyReply): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const res = reply.raw;
  const onClose = (): void => {
    if (!res.writableEnded) controller.abort("client-gone" satisfies CancelReason);
  };
  res.on("close", onClose);
  state.active.add(controller);
  return {
    signal: controller.signal,
    release() {
      res.off("close", onClose);
      state.active.delete(controller);
    },
  };
}

/** Where the answer goes: one JSON response, or (stream: true) SSE chunks written by hand. */
class AnswerOutput {
  readonly who: ResponseIdentity;
  readonly sse: SseStream | undefined;
  /** Completions with echo: the prompt, which comes back before the answer. */
  readonly echoed: string;
  /** Streaming: called with each piece of text the search commits. */
  readonly onText: ((delta: string) => void) | undefined;
  // The echoed prompt goes out with the first text the search commits (or with the closing
  // chunks), never before the generation has started: the guard may still refuse the prompt (too
  // long for the context), and that must be a plain 400, not an error inside a 200 stream.
  private echoPending: string;
  private firstChunk = true;

  constructor(
    readonly endpoint: Endpoint,
    modelId: string,
    body: StandardFields,
    input: string | ChatMessage[],
    reply: FastifyReply,
  ) {
    this.who = newIdentity(endpoint, modelId);
    this.sse = body.stream === true ? new SseStream(reply.raw) : undefined;
    if (this.sse) reply.hijack(); // from here on the response is written by hand, as SSE
    this.echoed = body.echo && typeof input === "string" ? input : "";
    this.echoPending = this.echoed;
    this.onText = this.sse ? (delta) => this.sendText(delta) : undefined;
  }

  /** The end of a streamed answer: the echo if no text carried it yet, the closing chunks, [DONE]. */
  close(result: GenerationResult, promptTokens: number, costName: string, includeUsage: boolean): void {
    if (this.echoPending !== "") this.sendText(""); // an answer with no text: the echo still comes first
    for (const chunk of closingChunks(this.endpoint, this.who, result, promptTokens, costName, includeUsage, !this.firstChunk)) this.sse!.send(chunk);
    this.sse!.done();
  }

  private sendText(delta: string): void {
    this.sse!.send(textChunk(this.endpoint, this.who, this.echoPending + delta, this.firstChunk));
    this.echoPending = "";
    this.firstChunk = false;
  }
}

/** The request's log line: method, URL, status, time, the user it names, and (with an audit trail) the response id, which names its trace file. */
function requestLog(state: ServerState, request: FastifyRequest, body: StandardFields, out: AnswerOutput, started: number): Job["log"] {
  const user = `${body.user ? ` user=${JSON.stringify(body.user)}` : ""}${state.audit ? ` id=${out.who.id}` : ""}`;
  return (status, note) =>
    state.log(`${request.method} ${request.url} ${status}${out.sse ? " stream" : ""} ${((performance.now() - started) / 1000).toFixed(2)}s${user} ${note}`);
}

async function generate(
  state: ServerState,
  input: string | ChatMessage[],
  endpoint: Endpoint,
  settings: ResolvedRequestSettings,
  signal: AbortSignal,
  onText: ((delta: string) => void) | undefined,
): Promise<{ result: GenerationResult; promptTokens: number }> {
  const selected = state.costs.select(settings.costName, endpoint === "chat", settings.options.budget);
  const promptTokens = state.guard.countPromptTokens(input, false);
  const result = await state.guard.generate(input, {
    ...settings.options,
    ...selected.options,
    chat: endpoint === "chat",
    signal,
    onText,
  });
  return { result, promptTokens };
}

/** Step 3: the finished (or cancelled) generation as the client gets it. */
function deliver(job: Job, full: GenerationResult, promptTokens: number, includeUsage: boolean): FastifyReply {
  const { state, reply, out, plan } = job;
  const answered = forClient(full, plan.clientTrace ? state.policy.trace : "off");
  const result = out.echoed === "" ? answered : { ...answered, text: out.echoed + answered.text };
  if (result.stopReason === "aborted") {
    state.counters.cancelled++;
    const reason = job.signal.reason as CancelReason;
    job.log(reason === "shutdown" ? 503 : 499, `cancelled (${reason === "shutdown" ? "shutdown" : "client gone"}) after ${result.tokens} tokens`);
    // A cut-short answer is never passed off as a complete one.
    if (reason === "shutdown") return refuse(out.sse, reply, 503, "the server shut down before the answer was finished", "shutting_down");
    return abandon(reply);
  }
  state.counters.completed++;
  job.log(200, `${result.tokens} tokens, cost ${result.cost}/${result.budget}${result.fallback ? " (fallback)" : ""}${result.warning !== undefined ? ` warning: ${result.warning}` : ""}`);
  if (!out.sse) return reply.send(fullResponse(out.endpoint, out.who, result, promptTokens, plan.costName));
  out.close(result, promptTokens, plan.costName, includeUsage);
  return reply;
}

/** Step 4: a failure as a status (thrown to the error handler) or, once hijacked for SSE, answered here. */
function fail(job: Job, error: unknown): FastifyReply {
  const { state, reply, out } = job;
  if (error instanceof DequeuedError) {
    state.counters.cancelled++;
    job.log(499, "cancelled while queued (client gone)");
    return abandon(reply);
  }
  const httpError =
    error instanceof QueueFullError
      ? busy(state)
      : error instanceof QueueClosedError
        ? new HttpError(503, "the server is shutting down", "shutting_down")
        : error instanceof UserError
          ? new HttpError(400, error.message, "invalid_request")
          : undefined;
  if (!out.sse) {
    job.log(httpError?.statusCode ?? 500, httpError?.message ?? "internal error");
    throw httpError ?? error;
  }
  // Hijacked: fastify's error handler no longer sees this reply, so answer here.
  if (httpError === undefined) {
    state.counters.failed++;
    state.log(`error: ${(error as Error).stack ?? String(error)}`);
  } else if (httpError.statusCode === 400) state.counters.badRequests++;
  else state.counters.refused++;
  const status = httpError?.statusCode ?? 500;
  job.log(status, httpError?.message ?? "internal error");
  return refuse(out.sse, reply, status, httpError?.message ?? "internal server error", httpError?.code ?? null, httpError?.headers);
}

/**
 * 429 with the queue's own estimate of when it will have drained (from recent job durations):
 * Retry-After in whole seconds, and OpenAI's retry-after-ms, which the openai clients prefer.
 */
function busy(state: ServerState): HttpError {
  const ms = state.queue.retryAfterMs();
  const retryAfter = state.queue.retryAfterSeconds();
  return new HttpError(429, `the server is busy (${state.queue.maxWaiting} requests already waiting): retry in ${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`, "queue_full", null, {
    "retry-after": String(retryAfter),
    "retry-after-ms": String(ms),
  });
}

/** The answer as the client sees it: no trace unless it asked (and may), and then without unsafe text unless the operator sends it. */
function forClient(result: GenerationResult, trace: ClientPolicy["trace"]): GenerationResult {
  const { trace: recorded, ...rest } = result;
  if (trace === "off" || recorded === undefined) return rest;
  return { ...rest, trace: trace === "full" ? recorded : (redactTrace(recorded, result.budget) as unknown as GenerationResult["trace"]) };
}

/** The operator's audit record of one answer (aborted ones too): never sent to the client. A failed write is logged, and the answer still goes out. */
async function writeAudit(
  state: ServerState,
  who: ResponseIdentity,
  endpoint: Endpoint,
  input: string | ChatMessage[],
  body: StandardFields,
  plan: Plan,
  result: GenerationResult,
): Promise<void> {
  const { trace = [], tokenIds: _ids, ...answer } = result;
  try {
    await state.audit!.write(who.id, {
      created: who.created,
      endpoint,
      model: state.modelId,
      ...(body.user ? { user: body.user } : {}),
      ...(typeof input === "string" ? { prompt: input } : { messages: input }),
      settings: plan.searched.options,
      costModel: plan.costName,
      clientTrace: plan.clientTrace ? state.policy.trace : "none",
      answer,
      trace,
    });
  } catch (error) {
    state.log(`warning: the audit trace of ${who.id} was not written: ${(error as Error).message}`);
  }
}

/** The client is gone: nothing to send; tell fastify not to wait for a reply. */
function abandon(reply: FastifyReply): FastifyReply {
  if (!reply.sent) reply.hijack();
  return reply;
}

/** An error answer: a JSON status while nothing was streamed, an error event in the stream after. */
function refuse(sse: SseStream | undefined, reply: FastifyReply, status: number, message: string, code: string | null, headers: Record<string, string> = {}): FastifyReply {
  const body = errorBody(message, errorTypeForStatus(status), code);
  if (sse) sse.reject(status, body, headers);
  else if (!reply.sent) void reply.code(status).headers(headers).send(body);
  return reply;
}
