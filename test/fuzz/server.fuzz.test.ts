// Fuzzing the server's routes (issue 20): random and mutated bodies for /v1/chat/completions and
// /v1/completions (with and without `guard`, streamed or not, wrong content types, truncated JSON,
// huge numbers, NUL bytes, lone surrogates, deep nesting). Properties, for every case:
//   - never a 5xx, never an error logged, never a crash;
//   - every refusal is a 400, 413 or 415 with OpenAI's error body and a message that names what is
//     wrong (a field of the body, the body itself, its JSON, or its Content-Type);
//   - every 200 is a whole answer (a stream ends with [DONE], never with an error event);
//   - every 200 is within the server's limits (the guard's method, a budget at most the server's,
//     no trace, max_tokens at most the server's), and a body made looser than them in any one
//     setting is refused with a 400 naming that setting (src/server/clientPolicy.ts);
//   - the server still answers a normal request after.
// Part 1 runs through fastify's inject (no sockets) on the real guard (stories260K, 1 thread), its
// answers cut to a few tokens so that thousands of cases fit in CI time. Part 2 sends raw bytes
// over loopback to a listening server whose answers are not cut (fewer cases, max_tokens kept
// small): no dropped connection, every response whole.
// INFERENCE_GUARD_FUZZ_RUNS=N runs N times as many cases (see arbitraries.ts).
import { connect } from "node:net";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { createGuard, type Guard } from "../../src/createGuard.js";
import { CostModelSet, costModelSpecs } from "../../src/cost/costModelSet.js";
import { buildApp, type ServerState } from "../../src/server/app.js";
import { parseServerConfig } from "../../src/server/config.js";
import { createGuardServer, type GuardServer } from "../../src/server/index.js";
import { ClientPolicy } from "../../src/server/clientPolicy.js";
import { JobQueue } from "../../src/server/jobQueue.js";
import { STORIES_MODEL } from "../helpers/models.js";
import { chatBody, completionBody, contentType, fuzzParams, loosenedBody, serialize, textMutation, type ServerLimits, type TextMutation } from "./arbitraries.js";

const BODY_LIMIT = 64 * 1024;
/** The fuzzed server's search settings, which requests may only tighten. */
const DEFAULTS = { maxTokens: 12, beams: 2, samples: 4 };
const LIMITS: ServerLimits = { ...DEFAULTS, budget: { chat: 0.5, completion: 1 } };
/** Fields the schemas know, any of which a message may name. */
const KNOWN_FIELDS = [
  "model", "messages", "prompt", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "stream", "stream_options", "n", "stop", "user",
  "frequency_penalty", "presence_penalty", "logit_bias", "ignore_eos", "guard", "logprobs", "top_logprobs", "response_format", "tools", "tool_choice",
  "functions", "function_call", "modalities", "audio", "echo", "best_of", "suffix", "metadata", "role", "content", "beams", "samples", "width", "budget",
];

let guard: Guard;
let costs: CostModelSet;
let state: ServerState;
let app: FastifyInstance;
const errorsLogged: string[] = [];

beforeAll(async () => {
  costs = await CostModelSet.load(costModelSpecs(undefined));
  const real = await createGuard({ model: STORIES_MODEL, cost: costs, threads: 1, parallel: 2 });
  // The real guard, its answers cut to a few tokens: validation, tokenizing, the engine's own
  // checks, cost models and the response code all run as they do in production.
  guard = Object.create(real, {
    generate: { value: (prompt: Parameters<Guard["generate"]>[0], options: Parameters<Guard["generate"]>[1] = {}) => real.generate(prompt, { ...options, maxTokens: Math.min(options.maxTokens ?? 4, 4) }) },
  }) as Guard;
  state = {
    guard,
    costs,
    queue: new JobQueue(4, guard.parallel),
    modelId: "stories260K",
    config: parseServerConfig({ bodyLimit: BODY_LIMIT, maxQueue: 4 }),
    defaults: DEFAULTS,
    policy: new ClientPolicy(parseServerConfig({}), DEFAULTS, costs),
    active: new Set(),
    counters: { completed: 0, refused: 0, cancelled: 0, badRequests: 0, failed: 0 },
    startedAt: Date.now(),
    shuttingDown: false,
    log: (line) => {
      if (line.startsWith("error:")) errorsLogged.push(line);
    },
  };
  app = buildApp(state);
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await guard?.dispose();
});

type Route = "/v1/chat/completions" | "/v1/completions";

interface Case {
  route: Route;
  body: Record<string, unknown>;
  mutation: TextMutation;
  type: string | undefined;
}

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  fc.record({ route: fc.constant<Route>("/v1/chat/completions"), body: chatBody, mutation: textMutation, type: contentType }),
  fc.record({ route: fc.constant<Route>("/v1/completions"), body: completionBody, mutation: textMutation, type: contentType }),
);

/** Every key of a parsed body, a few levels deep (what a message may name). */
function keysOf(value: unknown, depth = 3): string[] {
  if (depth === 0 || typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v, depth - 1)]);
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The properties every response must have (status, body shape, a message that names the problem). */
function checkResponse(status: number, headers: Record<string, unknown>, text: string, sent: string): void {
  const context = `status ${status} for ${JSON.stringify(sent.slice(0, 300))}: ${text.slice(0, 300)}`;
  if (![200, 400, 413, 415].includes(status)) throw new Error(`unexpected ${context}`);
  if (status === 200) {
    if (String(headers["content-type"]).startsWith("text/event-stream")) {
      const events = text.split("\n\n").filter((e) => e !== "");
      if (events.at(-1) !== "data: [DONE]") throw new Error(`a stream not ended by [DONE]: ${context}`);
      for (const event of events.slice(0, -1)) {
        const data = JSON.parse(event.replace(/^data: /, ""));
        if (data.error) throw new Error(`an error event in a 200 stream: ${context}`);
      }
      withinLimits(JSON.parse(events.at(-2)!.replace(/^data: /, "")), context);
    } else {
      const data = JSON.parse(text);
      if (!Array.isArray(data.choices) || data.choices.length !== 1 || typeof data.guard?.cost !== "number") throw new Error(`not a whole answer: ${context}`);
      withinLimits(data, context);
    }
    return;
  }
  const data = JSON.parse(text);
  const { message, param, type } = data.error ?? {};
  if (typeof message !== "string" || message === "" || type !== "invalid_request_error") throw new Error(`not an OpenAI error body: ${context}`);
  const parsed = tryParse(sent);
  // Named: the field in `param`, or the body itself (its JSON, its Content-Type), or a known field
  // or a key of the body (3+ characters) as a word of the message.
  const names = [...KNOWN_FIELDS, ...keysOf(parsed).filter((k) => k.length >= 3)];
  const word = (name: string): boolean => new RegExp(`(^|[^A-Za-z0-9_])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^A-Za-z0-9_]|$)`).test(message);
  const named = (typeof param === "string" && param !== "") || /\bbody\b|\bJSON\b|Content-Type/.test(message) || names.some(word);
  if (!named) throw new Error(`a refusal that names no field: ${context}`);
}

/** An answer (or a stream's last chunk) is no looser than the server: the guard, its budget or less, no trace, its max_tokens or less. */
function withinLimits(data: { guard?: any; usage?: { completion_tokens: number } }, context: string): void {
  const g = data.guard;
  if (g === undefined) throw new Error(`no guard summary: ${context}`);
  const ceiling = g.costModel === "assistant" ? LIMITS.budget.chat : LIMITS.budget.completion;
  if (g.method !== "guard" || !(g.budget <= ceiling) || "trace" in g) throw new Error(`an answer looser than the server: ${context}`);
  if (data.usage !== undefined && data.usage.completion_tokens > LIMITS.maxTokens) throw new Error(`an answer longer than the server's max_tokens: ${context}`);
}

async function normalRequestWorks(): Promise<void> {
  const r = await app.inject({
    method: "POST",
    url: "/v1/completions",
    payload: JSON.stringify({ model: "stories260K", prompt: "Once upon a time", max_tokens: 4, seed: 1 }),
    headers: { "content-type": "application/json" },
  });
  expect(r.statusCode).toBe(200);
  expect(JSON.parse(r.body).choices[0].finish_reason).toBeDefined();
}

test("random and mutated bodies through inject: never a 5xx, every refusal a 400/413/415 naming the field, every 200 whole", async () => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(caseArb, async ({ route, body, mutation, type }) => {
      const payload = serialize(body, mutation);
      const r = await app.inject({ method: "POST", url: route, payload, headers: type === undefined ? {} : { "content-type": type } });
      statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
      checkResponse(r.statusCode, r.headers, r.body, payload);
      if (errorsLogged.length > 0) throw new Error(`the server logged an error: ${errorsLogged[0]}`);
    }),
    fuzzParams(2500),
  );
  // The fuzz reached both sides: answers and each kind of refusal.
  expect(statuses.get(200) ?? 0).toBeGreaterThan(50);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(500);
  expect(statuses.get(415) ?? 0).toBeGreaterThan(20);
  expect(state.counters.failed).toBe(0);
  expect(state.queue.stats).toMatchObject({ running: 0, waiting: 0 });
  await normalRequestWorks();
});

test("bodies made looser than the server in one setting (budget, method, trace, beams, samples, max_tokens, cost model): each a 400 naming it", async () => {
  const named = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        loosenedBody(LIMITS, true).map((c) => ({ ...c, route: "/v1/chat/completions" as Route })),
        loosenedBody(LIMITS, false).map((c) => ({ ...c, route: "/v1/completions" as Route })),
      ),
      async ({ body, change, route }) => {
        const payload = serialize(body, { kind: "none" });
        const r = await app.inject({ method: "POST", url: route, payload, headers: { "content-type": "application/json" } });
        if (r.statusCode !== 400) throw new Error(`status ${r.statusCode} for a looser ${change.param} (${JSON.stringify(change.value)}): ${payload.slice(0, 300)} -> ${r.body.slice(0, 300)}`);
        const { param, message } = JSON.parse(r.body).error;
        // The loosened field, or (a sample count below the request's own beams) the library's check of that field.
        if (param !== change.param && !String(message).startsWith(`invalid request: ${change.param}`)) throw new Error(`a 400 naming ${param} (${message}) for a looser ${change.param}: ${payload.slice(0, 300)}`);
        named.set(change.param, (named.get(change.param) ?? 0) + 1);
      },
    ),
    fuzzParams(400),
  );
  // Every kind of loosening was tried.
  expect([...named.keys()].sort()).toEqual(["guard.beams", "guard.budget", "guard.cost", "guard.method", "guard.samples", "guard.trace", "max_tokens"]);
  expect(state.counters.failed).toBe(0);
});

test("bodies over the limit, empty ones and bodies of raw bytes: 413, 400 or 415 with a message", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
        fc.integer({ min: BODY_LIMIT + 1, max: BODY_LIMIT * 3 }).map((n) => Buffer.from(`{"model":"m","prompt":"${"x".repeat(n)}"}`)),
        fc.constant(Buffer.alloc(0)),
      ),
      contentType,
      fc.constantFrom<Route>("/v1/chat/completions", "/v1/completions"),
      async (payload, type, route) => {
        const r = await app.inject({ method: "POST", url: route, payload, headers: type === undefined ? {} : { "content-type": type } });
        checkResponse(r.statusCode, r.headers, r.body, payload.toString("latin1"));
        if (payload.length > BODY_LIMIT && r.statusCode !== 415) expect(r.statusCode).toBe(413);
      },
    ),
    fuzzParams(300),
  );
  expect(errorsLogged).toEqual([]);
  await normalRequestWorks();
});

describe("over loopback, answers not cut", () => {
  let server: GuardServer;
  let port: number;

  beforeAll(async () => {
    server = await createGuardServer({ model: STORIES_MODEL, threads: 1, port: 0, bodyLimit: BODY_LIMIT, maxQueue: 4, parallel: 2, defaults: { maxTokens: 8 }, log: (line) => void (line.startsWith("error:") && errorsLogged.push(line)) });
    port = Number(new URL(await server.listen()).port);
  });

  afterAll(async () => {
    await server?.close({ graceSeconds: 0 });
  });

  /**
   * One raw HTTP/1.1 request; resolves with the whole response (by its Content-Length, or the last
   * chunk of a chunked one: a stream keeps its connection alive), or rejects if the connection
   * drops before it is whole, or nothing whole arrives within 20 s.
   */
  function rawRequest(route: string, payload: Buffer, type: string | undefined): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      let raw = Buffer.alloc(0);
      const timer = setTimeout(() => fail(`no whole response within 20 s (${raw.length} bytes so far)`), 20_000);
      const fail = (why: string): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(why));
      };
      const whole = (): { status: number; headers: Record<string, string>; body: string } | undefined => {
        const split = raw.indexOf("\r\n\r\n");
        if (split < 0) return undefined;
        const [statusLine, ...headerLines] = raw.subarray(0, split).toString("latin1").split("\r\n");
        const headers = Object.fromEntries(headerLines.map((h) => [h.slice(0, h.indexOf(":")).toLowerCase(), h.slice(h.indexOf(":") + 1).trim()]));
        const rest = raw.subarray(split + 4);
        const status = Number(statusLine!.split(" ")[1]);
        if (headers["transfer-encoding"] === "chunked") {
          const body = unchunk(rest);
          return body === undefined ? undefined : { status, headers, body };
        }
        const length = Number(headers["content-length"] ?? NaN);
        if (!(rest.length >= length)) return undefined;
        return { status, headers, body: rest.subarray(0, length).toString("utf8") };
      };
      socket.on("data", (d) => {
        raw = Buffer.concat([raw, d]);
        const response = whole();
        if (!response) return;
        clearTimeout(timer);
        socket.destroy();
        resolve(response);
      });
      socket.on("error", (error) => fail(`connection error: ${error.message}`));
      socket.on("end", () => fail(`the connection closed before the response was whole (${raw.length} bytes)`));
      const head = [`POST ${route} HTTP/1.1`, "Host: 127.0.0.1", `Content-Length: ${payload.length}`, ...(type === undefined ? [] : [`Content-Type: ${type}`])];
      // write, not end: a client that half-closes its socket is taken for one that went away.
      socket.write(Buffer.concat([Buffer.from(head.join("\r\n") + "\r\n\r\n", "latin1"), payload]));
    });
  }

  test("random and mutated bodies as raw HTTP: a whole response every time, no 5xx; the server answers normally after", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ route, body, mutation, type }) => {
        // Answers are not cut here: keep generations short whatever the body asks.
        const short: Record<string, unknown> = { ...body, ...(typeof body.max_tokens === "number" && body.max_tokens > 8 ? { max_tokens: 8 } : {}), ...(typeof body.max_completion_tokens === "number" && body.max_completion_tokens > 8 ? { max_completion_tokens: 8 } : {}), ignore_eos: undefined };
        const guardField = short.guard;
        if (typeof guardField === "object" && guardField !== null && typeof (guardField as { maxTokens?: unknown }).maxTokens === "number") short.guard = { ...guardField, maxTokens: 8 };
        const payload = serialize(short, mutation);
        const r = await rawRequest(route, Buffer.from(payload, "utf8"), type);
        checkResponse(r.status, r.headers, r.body, payload);
      }),
      fuzzParams(250),
    );
    expect(errorsLogged).toEqual([]);
    expect(server.stats.requests.failed).toBe(0);
    const ok = await rawRequest("/v1/chat/completions", Buffer.from(JSON.stringify({ model: "x", messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 8 })), "application/json");
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).choices[0].message.role).toBe("assistant");
  });
});

/** The body of a chunked response, or undefined while its last chunk has not arrived. */
function unchunk(data: Buffer): string | undefined {
  const parts: Buffer[] = [];
  let rest = data;
  for (;;) {
    const line = rest.indexOf("\r\n");
    if (line < 0) return undefined;
    const size = Number.parseInt(rest.subarray(0, line).toString("latin1"), 16);
    if (size === 0) return rest.length >= line + 4 ? Buffer.concat(parts).toString("utf8") : undefined;
    if (rest.length < line + 2 + size + 2) return undefined;
    parts.push(rest.subarray(line + 2, line + 2 + size));
    rest = rest.subarray(line + 2 + size + 2);
  }
}
