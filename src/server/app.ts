// The HTTP surface (fastify): OpenAI-compatible /v1/chat/completions, /v1/completions and
// /v1/models, plus /health. Every body is checked with zod; every refusal is an OpenAI-shaped
// error with a status a client can act on (400 bad input or a setting looser than the server's,
// 401 key, 403 a Host or Origin not allowed, 404 model, 413 size, 429 busy with Retry-After, 503
// shutting down). Up to `parallel` generations run at once (sharing each decode, see
// engine/slots.ts) through the JobQueue; the rest wait there. The trust boundary (what a client
// may change, which traces it sees, which hosts and origins are answered) is docs/server.md's.
import { guardFieldSchema } from "../request/guardSettings.js";
import { createHash, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { z } from "zod";
import type { ChatMessage, Guard } from "../createGuard.js";
import { UserError, describeZodError } from "../errors.js";
import type { GuardOptions } from "../search/options.js";
import type { GenerationResult } from "../search/types.js";
import type { AuditTrail } from "./auditTrace.js";
import { redactTrace, type ClientPolicy } from "./clientPolicy.js";
import type { ResolvedServerConfig } from "./config.js";
import { HttpError } from "./httpError.js";
import { boundary } from "./origins.js";
import type { CostModelSet } from "../request/costModels.js";
import { resolveRequestSettings, type ResolvedRequestSettings } from "../request/guardSettings.js";
import { DequeuedError, JobQueue, QueueClosedError, QueueFullError } from "./jobQueue.js";
import { chatCompletionRequestSchema, completionRequestSchema, stopSequences, toChatMessages } from "./requestSchemas.js";
import {
  closingChunks,
  errorBody,
  errorTypeForStatus,
  fullResponse,
  newIdentity,
  textChunk,
  type Endpoint,
} from "./responses.js";
import { SseStream } from "./sse.js";

/** Why a request's generation was cancelled. */
export type CancelReason = "client-gone" | "shutdown";

export interface RequestCounters {
  completed: number;
  /** Refused because the queue was full or the server was shutting down. */
  refused: number;
  /** Cancelled: the client left, or shutdown ran out of grace time. */
  cancelled: number;
  badRequests: number;
  failed: number;
}

export interface ServerState {
  readonly guard: Guard;
  readonly costs: CostModelSet;
  readonly queue: JobQueue;
  readonly modelId: string;
  readonly config: ResolvedServerConfig;
  readonly defaults: GuardOptions;
  /** What a client may change (the operator's settings are ceilings) and which traces it sees. */
  readonly policy: ClientPolicy;
  /** Where every answer's full trace is written (--audit-trace-dir); undefined: nowhere. */
  readonly audit?: AuditTrail;
  /** Controllers of requests queued or running, so shutdown can cancel them. */
  readonly active: Set<AbortController>;
  readonly counters: RequestCounters;
  readonly startedAt: number;
  shuttingDown: boolean;
  log(line: string): void;
}

export { HttpError };

const SAMPLING_FIELD_NAMES = { maxTokens: "max_tokens", temperature: "temperature", topP: "top_p", seed: "seed", stop: "stop", ignoreEos: "ignore_eos" };

export function buildApp(state: ServerState): FastifyInstance {
  const app = Fastify({ bodyLimit: state.config.bodyLimit, logger: false, return503OnClosing: true });
  // JSON only: fastify would also accept text/plain bodies, which no endpoint here means.
  app.removeContentTypeParser("text/plain");
  // fastify's own JSON parser answers every mistake with "Body is not valid JSON"; this one says
  // what is wrong (where the JSON breaks, or which key is refused). Like fastify's, it refuses
  // "__proto__" keys and "constructor.prototype" (prototype poisoning) anywhere in the body.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, text, done) => {
    try {
      done(null, parseJsonBody(text as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    const status = error instanceof HttpError ? error.statusCode : (error.statusCode ?? 500);
    if (status >= 500) {
      state.counters.failed++;
      state.log(`error: ${error.stack ?? error.message}`);
    } else if (status === 429 || status === 503) state.counters.refused++;
    else if (status !== 401) state.counters.badRequests++;
    const message =
      error.code === "FST_ERR_CTP_BODY_TOO_LARGE"
        ? `request body is larger than the server's limit of ${state.config.bodyLimit} bytes`
        : error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
          ? `unsupported Content-Type ${JSON.stringify(_request.headers["content-type"] ?? "(none)")}: send the body as JSON, Content-Type: application/json`
          : status >= 500 && !(error instanceof HttpError)
          ? "internal server error"
          : error.message;
    if (error instanceof HttpError) reply.headers(error.headers);
    const code = error instanceof HttpError ? error.code : (error.code ?? null);
    return reply.code(status).send(errorBody(message, errorTypeForStatus(status), code, error instanceof HttpError ? error.param : null));
  });

  // Before anything else, /health and unknown routes included: a Host this server does not answer
  // (DNS rebinding) or a browser page of an origin it does not allow gets a 403; a preflight of
  // an allowed origin is answered here.
  const gate = boundary(state.config);
  app.addHook("onRequest", async (request, reply) => {
    gate.checkHost(request.headers.host);
    if (gate.checkOrigin(request, reply)) return reply;
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(`no route for ${request.method} ${request.url.split("?")[0]}`, "not_found_error", "unknown_url")),
  );

  app.get("/health", async () => ({
    status: state.shuttingDown ? "shutting_down" : "ok",
    model: state.modelId,
    costModels: state.costs.names(),
    queue: state.queue.stats,
    requests: state.counters,
    clients: { ...state.policy.summary(), auditTrace: state.audit !== undefined, ...gate.summary() },
    uptimeSeconds: Math.round((Date.now() - state.startedAt) / 1000),
  }));

  app.register(
    async (v1) => {
      if (state.config.apiKey !== undefined) {
        const expected = digest(state.config.apiKey);
        v1.addHook("onRequest", async (request) => {
          const header = request.headers.authorization ?? "";
          const match = /^Bearer\s+(.+)$/i.exec(header);
          if (!match) throw new HttpError(401, "missing API key: send Authorization: Bearer <key>", "missing_api_key", null, { "www-authenticate": "Bearer" });
          if (!timingSafeEqual(digest(match[1]!.trim()), expected)) {
            throw new HttpError(401, "incorrect API key", "invalid_api_key", null, { "www-authenticate": "Bearer" });
          }
        });
      }

      const modelObject = () => ({ id: state.modelId, object: "model", created: Math.floor(state.startedAt / 1000), owned_by: "inference-guard" });
      v1.get("/models", async () => ({ object: "list", data: [modelObject()] }));
      v1.get<{ Params: { id: string } }>("/models/:id", async (request) => {
        if (request.params.id !== state.modelId) throw unknownModel(request.params.id, state.modelId);
        return modelObject();
      });

      v1.post("/chat/completions", async (request, reply) => {
        const body = parseBody(chatCompletionRequestSchema, request.body);
        const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
        const maxTokensField = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
        return answer(state, "chat", toChatMessages(body.messages), { ...body, max_tokens: maxTokens, maxTokensField, echo: false }, request, reply);
      });

      v1.post("/completions", async (request, reply) => {
        const body = parseBody(completionRequestSchema, request.body);
        const prompt = typeof body.prompt === "string" ? body.prompt : body.prompt[0]!;
        return answer(state, "completion", prompt, { ...body, maxTokensField: "max_tokens", echo: body.echo === true }, request, reply);
      });
    },
    { prefix: "/v1" },
  );

  return app;
}

/**
 * A request body as JSON: a 400 that says why when it is empty, is not JSON (V8's message names
 * where it breaks), or has a key that would poison a prototype (and where). Iterative, so a deeply
 * nested body cannot overflow the stack.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") throw new HttpError(400, "the request body is empty: send a JSON object (Content-Type: application/json)", "invalid_json");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `the request body is not valid JSON: ${(error as Error).message}`, "invalid_json");
  }
  const pending: Array<{ value: unknown; path: string }> = [{ value, path: "" }];
  while (pending.length > 0) {
    const { value: node, path } = pending.pop()!;
    if (typeof node !== "object" || node === null) continue;
    const isArray = Array.isArray(node);
    for (const key of Object.keys(node)) {
      const child = (node as Record<string, unknown>)[key];
      const at = isArray ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`;
      const poisoned = key === "__proto__" || (key === "constructor" && typeof child === "object" && child !== null && Object.hasOwn(child, "prototype"));
      if (poisoned) throw new HttpError(400, `the request body has a key "${key === "__proto__" ? "__proto__" : "constructor.prototype"}" (at ${at}), which is refused`, "invalid_request", at);
      if (typeof child === "object" && child !== null) pending.push({ value: child, path: at });
    }
  }
  return value;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function unknownModel(asked: string, served: string): HttpError {
  return new HttpError(404, `unknown model "${asked}": this server serves "${served}"`, "model_not_found", "model");
}

/** The keys the server's `guard` body field takes (for the message about an unknown one). */
const GUARD_FIELD_KEYS = Object.keys((guardFieldSchema as unknown as { shape?: Record<string, unknown> }).shape ?? {}).sort();

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "the request body must be a JSON object (Content-Type: application/json)");
  }
  const result = schema.safeParse(body);
  if (!result.success) {
    const issues = result.error.issues.map((issue) =>
      issue.code === "unrecognized_keys"
        ? {
            ...issue,
            // Inside `guard` the valid keys are the guard field's own; at the top, OpenAI's plus ours.
            message:
              `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")} ` +
              (issue.path[0] === "guard" && issue.path.length === 1
                ? `(the guard field takes ${GUARD_FIELD_KEYS.join(", ")})`
                : "(not an OpenAI request field; this server's own are guard and ignore_eos)"),
          }
        : issue,
    );
    const first = issues[0];
    const param = first ? (first.code === "unrecognized_keys" ? [...first.path, first.keys[0]] : first.path).map(String).join(".") || null : null;
    throw new HttpError(400, `invalid request: ${describeZodError({ issues })}`, "invalid_request", param);
  }
  return result.data;
}

interface StandardFields {
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

/** Validates what the body asks for, queues the generation and answers (streamed or whole). */
async function answer(
  state: ServerState,
  endpoint: Endpoint,
  input: string | ChatMessage[],
  body: StandardFields,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const started = performance.now();
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

  const controller = new AbortController();
  const res = reply.raw;
  // The response closing before we ended it means the client went away: stop its generation
  // (or drop it from the queue) so its sequences and its slot go to the next request.
  const onClose = (): void => {
    if (!res.writableEnded) controller.abort("client-gone" satisfies CancelReason);
  };
  res.on("close", onClose);
  state.active.add(controller);

  const stream = body.stream === true;
  const who = newIdentity(endpoint, state.modelId);
  const sse = stream ? new SseStream(res) : undefined;
  if (stream) reply.hijack(); // from here on the response is written by hand, as SSE
  let firstChunk = true;
  const echoed = body.echo && typeof input === "string" ? input : "";
  // The echoed prompt goes out with the first text the search commits (or with the closing
  // chunks), never before the generation has started: the guard may still refuse the prompt (too
  // long for the context), and that must be a plain 400, not an error inside a 200 stream.
  let echoPending = echoed;
  const onText = sse
    ? (delta: string): void => {
        sse.send(textChunk(endpoint, who, echoPending + delta, firstChunk));
        echoPending = "";
        firstChunk = false;
      }
    : undefined;

  // With an audit trail the log line names the response id, which names its trace file.
  const user = `${body.user ? ` user=${JSON.stringify(body.user)}` : ""}${state.audit ? ` id=${who.id}` : ""}`;
  const logLine = (status: number, note: string): void =>
    state.log(`${request.method} ${request.url} ${status}${stream ? " stream" : ""} ${((performance.now() - started) / 1000).toFixed(2)}s${user} ${note}`);

  try {
    const { result: full, promptTokens } = await state.queue.run(() => generate(state, input, endpoint, searched, controller.signal, onText), controller.signal);
    if (state.audit) await writeAudit(state, who, endpoint, input, body, searched, costName, clientTrace, full);
    const answered = forClient(full, clientTrace ? state.policy.trace : "off");
    const result = echoed === "" ? answered : { ...answered, text: echoed + answered.text };
    if (result.stopReason === "aborted") {
      state.counters.cancelled++;
      const reason = controller.signal.reason as CancelReason;
      logLine(reason === "shutdown" ? 503 : 499, `cancelled (${reason === "shutdown" ? "shutdown" : "client gone"}) after ${result.tokens} tokens`);
      // A cut-short answer is never passed off as a complete one.
      if (reason === "shutdown") return refuse(sse, reply, 503, "the server shut down before the answer was finished", "shutting_down");
      return abandon(reply);
    }
    state.counters.completed++;
    logLine(200, `${result.tokens} tokens, cost ${result.cost}/${result.budget}${result.fallback ? " (fallback)" : ""}${result.warning !== undefined ? ` warning: ${result.warning}` : ""}`);
    if (!sse) return reply.send(fullResponse(endpoint, who, result, promptTokens, costName));
    if (echoPending !== "") onText!(""); // an answer with no text: the echo still comes first
    for (const chunk of closingChunks(endpoint, who, result, promptTokens, costName, body.stream_options?.include_usage === true, !firstChunk)) sse.send(chunk);
    sse.done();
    return reply;
  } catch (error) {
    if (error instanceof DequeuedError) {
      state.counters.cancelled++;
      logLine(499, "cancelled while queued (client gone)");
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
    if (!sse) {
      logLine(httpError?.statusCode ?? 500, httpError?.message ?? "internal error");
      throw httpError ?? error;
    }
    // Hijacked: fastify's error handler no longer sees this reply, so answer here.
    if (httpError === undefined) {
      state.counters.failed++;
      state.log(`error: ${(error as Error).stack ?? String(error)}`);
    } else if (httpError.statusCode === 400) state.counters.badRequests++;
    else state.counters.refused++;
    const status = httpError?.statusCode ?? 500;
    logLine(status, httpError?.message ?? "internal error");
    return refuse(sse, reply, status, httpError?.message ?? "internal server error", httpError?.code ?? null, httpError?.headers);
  } finally {
    res.off("close", onClose);
    state.active.delete(controller);
  }
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
  who: { id: string; created: number },
  endpoint: Endpoint,
  input: string | ChatMessage[],
  body: StandardFields,
  settings: ResolvedRequestSettings,
  costName: string,
  clientTrace: boolean,
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
      settings: settings.options,
      costModel: costName,
      clientTrace: clientTrace ? state.policy.trace : "none",
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
