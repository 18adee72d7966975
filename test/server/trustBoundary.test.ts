// The server's trust boundary (issue 25, docs/server.md "Trust boundary"): a client of a server
// started with its defaults cannot loosen the search (a larger budget, a baseline method, fewer
// beams or samples, a longer answer, the other prompt kind's cost model), read a trace, or reach
// the server through a name it does not answer (DNS rebinding) or from a browser page of another
// origin; the operator opens each on purpose; and no byte of the text of a candidate that went
// over budget reaches a client on any route, while the operator's audit trace keeps all of it.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { ASSISTANT_COST_DEFAULT } from "../../src/cost/defaults.js";
import { CostModelSet, costModelSpecs } from "../../src/cost/costModelSet.js";
import { ClientPolicy, isUnsafeCandidate } from "../../src/server/clientPolicy.js";
import { parseServerConfig } from "../../src/server/config.js";
import { boundary } from "../../src/server/origins.js";
import { createGuardServer, type GuardServer } from "../../src/server/index.js";
import type { TraceBlock } from "../../src/search/types.js";
import { STORIES_MODEL } from "../helpers/models.js";

const STRICT_TERMS = ["the", "was", "a", "she", "he", "they", "and", "little", "to", "her", "his"];
const dir = mkdtempSync(join(tmpdir(), "inference-guard-trust-"));
const strictRules = join(dir, "strict.json");
writeFileSync(strictRules, JSON.stringify({ terms: Object.fromEntries(STRICT_TERMS.map((t) => [t, 1])) }));

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with any headers (Host included, which fetch does not let a caller set). */
function send(server: GuardServer, method: string, path: string, headers: Record<string, string> = {}, body?: unknown, abortAfterFirstChunk = false): Promise<Response> {
  const { port } = new URL(server.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers: { ...(payload ? { "content-type": "application/json" } : {}), ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      const done = (): void => resolve({ status: res.statusCode!, headers: res.headers, body: text });
      res.on("data", (d: string) => {
        text += d;
        // A client that leaves once text has arrived.
        if (abortAfterFirstChunk && /"(text|content)":"[^"]/.test(text)) {
          req.destroy();
          done();
        }
      });
      res.on("end", done);
      res.on("error", done);
    });
    req.on("error", (error) => (abortAfterFirstChunk ? undefined : reject(error)));
    if (payload) req.write(payload);
    req.end();
  });
}

const chatBody = (extra: object = {}) => ({ model: "x", messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 8, seed: 1, ...extra });
const textBody = (extra: object = {}) => ({ model: "x", prompt: "Once upon a time", max_tokens: 8, seed: 1, ...extra });
const CHAT = "/v1/chat/completions";
const TEXT = "/v1/completions";

/** Requests a default server refuses: [what, route, body, the field named, the message]. */
const LOOSER: Array<[string, string, object, string, RegExp]> = [
  ["a chat budget above the assistant model's 0.5 (the issue's guard: {budget: 50})", CHAT, chatBody({ guard: { budget: 50 } }), "guard.budget", /guard\.budget 50 is above this server's budget 0\.5 for cost model "assistant".*--allow-client-override budget/],
  ["a completion budget above the lexicon's 1", TEXT, textBody({ guard: { budget: 2 } }), "guard.budget", /above this server's budget 1 for cost model "default"/],
  ["plain sampling (the issue's guard: {method: \"sample\"})", CHAT, chatBody({ guard: { method: "sample" } }), "guard.method", /guard\.method "sample" is not allowed: this server answers with guard \(.*--allow-client-methods/],
  ["greedy decoding", TEXT, textBody({ guard: { method: "greedy" } }), "guard.method", /"greedy" is not allowed/],
  ["a trace (the issue's guard: {trace: true})", CHAT, chatBody({ guard: { trace: true } }), "guard.trace", /sends no traces to clients.*--allow-client-trace/],
  ["fewer beams", TEXT, textBody({ guard: { beams: 2 } }), "guard.beams", /guard\.beams 2 is below this server's 4/],
  ["fewer samples", TEXT, textBody({ guard: { samples: 4 } }), "guard.samples", /guard\.samples 4 is below this server's 8/],
  ["a longer answer", TEXT, textBody({ max_tokens: 201 }), "max_tokens", /max_tokens 201 is above this server's limit of 200 tokens/],
  ["a longer chat answer (max_completion_tokens)", CHAT, chatBody({ max_completion_tokens: 500 }), "max_completion_tokens", /max_completion_tokens 500 is above/],
  ["the story lexicon for a chat request (it would escape the chat harm cost)", CHAT, chatBody({ guard: { cost: "default" } }), "guard.cost", /guard\.cost "default" is not offered to chat requests: this server offers assistant/],
  ["the chat harm cost for a completion", TEXT, textBody({ guard: { cost: "assistant" } }), "guard.cost", /not offered to completion requests: this server offers default/],
  ["the chat budget of 50, streamed (refused with a plain 400, not inside a stream)", CHAT, chatBody({ stream: true, guard: { budget: 50 } }), "guard.budget", /above this server's budget/],
];

describe("a server started with its defaults", () => {
  let server: GuardServer;
  const lines: string[] = [];

  beforeAll(async () => {
    server = await createGuardServer({ model: STORIES_MODEL, threads: 1, port: 0, log: (line) => lines.push(line) });
    await server.listen();
  });
  afterAll(() => server?.close({ graceSeconds: 0 }));

  test.each(LOOSER)("refuses %s: a 400 in OpenAI's shape naming the field and the server's limit", async (_what, route, body, param, message) => {
    const r = await send(server, "POST", route, {}, body);
    expect(r.status).toBe(400);
    expect(r.headers["content-type"]).toMatch(/application\/json/);
    const { error } = JSON.parse(r.body);
    expect(error).toMatchObject({ type: "invalid_request_error", param });
    expect(error.message).toMatch(message);
    expect(typeof error.code).toBe("string");
  });

  test("accepts what tightens it: a lower budget, more beams and samples, a shorter answer, refuse instead of truncate, its own cost model by name", async () => {
    const chat = JSON.parse((await send(server, "POST", CHAT, {}, chatBody({ max_tokens: 6, guard: { budget: 0.3, beams: 5, samples: 9, onUnsafe: "refuse", cost: "assistant" } }))).body);
    expect(chat.guard).toMatchObject({ method: "guard", budget: 0.3, costModel: "assistant" });
    expect(chat.guard).not.toHaveProperty("trace");
    const text = JSON.parse((await send(server, "POST", TEXT, {}, textBody({ max_tokens: 200, temperature: 0.5, guard: { budget: 1, cost: "default", width: 2 } }))).body);
    expect(text.guard).toMatchObject({ method: "guard", budget: 1, costModel: "default" });
  });

  test("the stock openai client works as it is: whole and streamed, chat and completions", async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
    const chat = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 8 });
    expect((chat as any).guard).toMatchObject({ method: "guard", budget: ASSISTANT_COST_DEFAULT.budget });
    let streamed = "";
    for await (const chunk of await client.completions.create({ model: "davinci-002", prompt: "Once upon a time", max_tokens: 8, stream: true })) streamed += chunk.choices[0]?.text ?? "";
    expect(streamed.length).toBeGreaterThan(0);
    await expect(client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }], guard: { budget: 50 } } as never)).rejects.toMatchObject({ status: 400 });
  });

  test("answers only loopback Host names (DNS rebinding): another name gets a one-line 403 on every route", async () => {
    const { port } = new URL(server.url);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`, "localhost", `app.localhost:${port}`, `127.0.0.2:${port}`]) {
      expect([host, (await send(server, "GET", "/health", { host })).status]).toEqual([host, 200]);
    }
    for (const [method, path, body] of [["GET", "/health"], ["GET", "/v1/models"], ["POST", CHAT, chatBody()], ["POST", TEXT, textBody()], ["GET", "/nope"]] as const) {
      for (const host of [`evil.example:${port}`, "evil.example", `localhost.evil.example:${port}`, `192.168.1.5:${port}`]) {
        const r = await send(server, method, path, { host }, body);
        expect([host, path, r.status]).toEqual([host, path, 403]);
        expect(r.body.split("\n")).toHaveLength(1);
        expect(JSON.parse(r.body).error).toMatchObject({ type: "permission_error", code: "host_not_allowed", message: expect.stringContaining(`Host "${host}" is not allowed`) });
      }
    }
  });

  test("CORS is off: no preflight, no Access-Control headers, a request from another origin's page is refused", async () => {
    const preflight = await send(server, "OPTIONS", CHAT, { origin: "http://app.example:3000", "access-control-request-method": "POST" });
    expect(preflight.status).toBe(403);
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
    const cross = await send(server, "POST", CHAT, { origin: "http://evil.example" }, chatBody());
    expect(cross.status).toBe(403);
    expect(JSON.parse(cross.body).error.message).toMatch(/origin "http:\/\/evil\.example" is not allowed: CORS is off \(the operator adds one with --allow-origin\)/);
    const plain = await send(server, "POST", CHAT, {}, chatBody());
    expect(plain.status).toBe(200);
    expect(plain.headers["access-control-allow-origin"]).toBeUndefined();
  });

  test("/health says what a client may change", async () => {
    const health = JSON.parse((await send(server, "GET", "/health")).body);
    expect(health.clients).toEqual({
      maxBudget: { default: 1, assistant: ASSISTANT_COST_DEFAULT.budget },
      maxTokens: 200,
      minBeams: 4,
      minSamples: 8,
      onUnsafe: ["truncate", "refuse"],
      costModels: { chat: ["assistant"], completion: ["default"] },
      methods: ["guard"],
      overrides: [],
      trace: "off",
      auditTrace: false,
      hosts: ["loopback"],
      origins: "off",
    });
    // Refusals are bad requests, not failures.
    expect(health.requests.failed).toBe(0);
  });
});

test("an --on-unsafe refuse server refuses truncate; overrides open one setting each", async () => {
  const costs = await CostModelSet.load(costModelSpecs(undefined, { strict: `rules:${strictRules}` }));
  try {
    const refuse = new ClientPolicy(parseServerConfig({}), { onUnsafe: "refuse", budget: 0.4 }, costs);
    const ask = (policy: ClientPolicy, guard: object, chat = true, costName = "assistant") => policy.check({ chat, guard, costName })?.param;
    expect(ask(refuse, { onUnsafe: "truncate" })).toBe("guard.onUnsafe");
    expect(ask(refuse, { onUnsafe: "refuse" })).toBeUndefined();
    // --budget applies to every cost model, the assistant's too.
    expect(ask(refuse, { budget: 0.45 })).toBe("guard.budget");
    expect(ask(refuse, { budget: 0.4 })).toBeUndefined();
    // An operator's --cost-model is offered to both prompt kinds (its ceiling the server's budget).
    expect(ask(refuse, { cost: "strict" }, true, "strict")).toBeUndefined();
    expect(ask(refuse, { cost: "strict" }, false, "strict")).toBeUndefined();
    const opened = new ClientPolicy(parseServerConfig({ allowClientOverride: ["on-unsafe", "cost"] }), { onUnsafe: "refuse" }, costs);
    expect(ask(opened, { onUnsafe: "truncate" })).toBeUndefined();
    expect(ask(opened, { cost: "default" }, true, "default")).toBeUndefined();
    expect(ask(opened, { budget: 2 }, true, "default")).toBe("guard.budget"); // only what was opened
    const all = new ClientPolicy(parseServerConfig({ allowClientOverride: ["all"], allowClientMethods: ["all"], clientTrace: "redacted" }), {}, costs);
    expect(ask(all, { budget: 1e6, beams: 1, samples: 1, onUnsafe: "truncate", cost: "default", method: "sample", trace: true })).toBeUndefined();
    expect(all.check({ chat: false, guard: {}, costName: "default", maxTokens: { field: "max_tokens", value: 1e6 } })).toBeUndefined();
  } finally {
    await costs.dispose();
  }
});

test('"*" as an allowed origin together with an API key is refused at startup in one line, before any model loads', async () => {
  await expect(createGuardServer({ model: "/nope.gguf", apiKey: "k", allowedOrigins: ["*"] })).rejects.toThrow(/^--allow-origin "\*" cannot be used with an API key: any web page could use the key; list the origins instead$/);
  expect(() => parseServerConfig({ allowedOrigins: ["http://a.example/path"] })).toThrow(/is not an origin/);
  expect(() => parseServerConfig({ allowedOrigins: ["http://a.example/"] })).toThrow(/is not an origin/);
  expect(parseServerConfig({ allowedOrigins: ["HTTP://A.example:3000", "app://ui", "null"] }).allowedOrigins).toEqual(["http://a.example:3000", "app://ui", "null"]);
  expect(() => parseServerConfig({ allowedHosts: ["a b"] })).toThrow(/allowedHosts/);
  expect(parseServerConfig({ allowedOrigins: ["*"] }).allowedOrigins).toEqual(["*"]); // without a key it is allowed
});

test("bound to 0.0.0.0: IP addresses and loopback names are answered, other names only when listed; an origin of * answers every page", () => {
  const exposed = boundary(parseServerConfig({ host: "0.0.0.0" }));
  for (const host of ["192.168.1.5:8080", "[fe80::1]:8080", "10.0.0.2", "localhost:8080"]) expect(() => exposed.checkHost(host)).not.toThrow();
  expect(() => exposed.checkHost("gpu-box.lan:8080")).toThrow(/Host "gpu-box\.lan:8080" is not allowed: this server answers loopback names and IP addresses \(the operator adds one with --allow-host/);
  const listed = boundary(parseServerConfig({ host: "0.0.0.0", allowedHosts: ["gpu-box.lan", "api.example:443"] }));
  expect(() => listed.checkHost("gpu-box.lan:8080")).not.toThrow();
  expect(() => listed.checkHost("GPU-BOX.lan")).not.toThrow();
  expect(() => listed.checkHost("api.example:443")).not.toThrow();
  expect(() => listed.checkHost("api.example:8443")).toThrow(/not allowed/);
  expect(() => boundary(parseServerConfig({ allowedHosts: ["*"] })).checkHost("anything.example")).not.toThrow();
  expect(() => boundary(parseServerConfig({})).checkHost(undefined)).toThrow(/no Host header/);
  // Any origin (allowed only without an API key): "*" itself, never the page's origin echoed with credentials.
  const headers: Record<string, string> = {};
  const reply = { raw: { setHeader: (k: string, v: string) => (headers[k] = v) } };
  const anyOrigin = boundary(parseServerConfig({ allowedOrigins: ["*", "app://ui"] }));
  expect(anyOrigin.checkOrigin({ method: "POST", headers: { origin: "http://elsewhere.example", host: "127.0.0.1:8080" } } as never, reply as never)).toBe(false);
  expect(headers).toMatchObject({ "access-control-allow-origin": "*", vary: "Origin" });
});

describe("the operator opens each on purpose", () => {
  let server: GuardServer;
  const audit = join(dir, "open-audit");
  const ORIGIN = "http://app.example:3000";

  beforeAll(async () => {
    server = await createGuardServer({
      model: STORIES_MODEL,
      threads: 1,
      port: 0,
      apiKey: "sk-open",
      costModels: { strict: `rules:${strictRules}` },
      allowClientOverride: ["all"],
      allowClientMethods: ["sample", "greedy"],
      clientTrace: "full",
      auditTraceDir: audit,
      allowedHosts: ["evil.example"],
      allowedOrigins: [ORIGIN],
    });
    await server.listen();
  });
  afterAll(() => server?.close({ graceSeconds: 0 }));
  const key = { authorization: "Bearer sk-open" };

  test.each(LOOSER)("allows %s", async (_what, route, body) => {
    const r = await send(server, "POST", route, key, body);
    expect(r.status).toBe(200);
  });

  test("the budget a client asked for is the one used; the baselines run; every answer has its audit file", async () => {
    const loose = JSON.parse((await send(server, "POST", CHAT, key, chatBody({ guard: { budget: 50 } }))).body);
    expect(loose.guard).toMatchObject({ budget: 50, method: "guard" });
    const sampled = JSON.parse((await send(server, "POST", CHAT, key, chatBody({ guard: { method: "sample" } }))).body);
    expect(sampled.guard.method).toBe("sample");
    for (const id of [loose.id, sampled.id]) expect(existsSync(join(audit, `${id}.json`))).toBe(true);
  });

  test("Host: a listed name is answered, others still get the 403", async () => {
    const { port } = new URL(server.url);
    expect((await send(server, "GET", "/health", { host: `evil.example:${port}` })).status).toBe(200);
    expect((await send(server, "GET", "/health", { host: `other.example:${port}` })).status).toBe(403);
  });

  test("CORS for the listed origin: preflight answered, Vary: Origin, headers on answers, errors and streams; other origins refused", async () => {
    const preflight = await send(server, "OPTIONS", CHAT, { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, x-stainless-os" });
    expect(preflight.status).toBe(204);
    expect(preflight.headers).toMatchObject({
      "access-control-allow-origin": ORIGIN,
      "access-control-allow-methods": "GET, POST, OPTIONS",
      "access-control-allow-headers": "authorization, content-type, x-stainless-os",
    });
    expect(String(preflight.headers.vary)).toMatch(/Origin/);
    const withOrigin = { ...key, origin: ORIGIN };
    for (const r of [
      await send(server, "POST", CHAT, withOrigin, chatBody()),
      await send(server, "POST", TEXT, withOrigin, textBody({ stream: true })),
      await send(server, "POST", TEXT, withOrigin, textBody({ guard: { beams: 8, samples: 4 } })), // a 400
      await send(server, "POST", TEXT, { origin: ORIGIN }, textBody()), // a 401
    ]) {
      expect(r.headers["access-control-allow-origin"]).toBe(ORIGIN);
      expect(String(r.headers.vary)).toMatch(/Origin/);
    }
    const other = await send(server, "POST", CHAT, { ...key, origin: "http://evil.example" }, chatBody());
    expect(other.status).toBe(403);
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    const health = JSON.parse((await send(server, "GET", "/health")).body);
    expect(health.clients).toMatchObject({ overrides: ["budget", "beams", "samples", "max-tokens", "on-unsafe", "cost"], methods: ["guard", "sample", "greedy"], trace: "full", auditTrace: true, hosts: ["loopback", "evil.example"], origins: [ORIGIN] });
  });

  test("with --allow-client-trace-unsafe-text the over-budget text does reach the client (the check below can see a leak)", async () => {
    const r = await send(server, "POST", TEXT, key, textBody({ max_tokens: 24, guard: { cost: "strict", budget: 0.5, trace: true, beams: 2, samples: 8, width: 4 } }));
    const leaks = leaked(r.body, auditRecord(audit, JSON.parse(r.body).id));
    expect(leaks.length).toBeGreaterThan(0);
  });
});

/** The operator's audit record of response `id`. */
function auditRecord(folder: string, id: string): { answer: { text: string; budget: number }; prompt?: string; messages?: Array<{ content: string }>; trace: TraceBlock[] } {
  return JSON.parse(readFileSync(join(folder, `${id}.json`), "utf8"));
}

/** Keys whose string values carry text of the model or the prompt. */
const TEXT_KEYS = new Set(["text", "content", "added", "message", "warning", "refusal"]);

/** The strings a client received, from a JSON body or every `data:` event of a stream, split into text and the rest. */
function clientStrings(body: string): { texts: string[]; others: string[] } {
  const texts: string[] = [];
  const others: string[] = [];
  const walk = (value: unknown, key: string): void => {
    if (typeof value === "string") (TEXT_KEYS.has(key) ? texts : others).push(value);
    else if (Array.isArray(value)) value.forEach((v) => walk(v, key));
    else if (typeof value === "object" && value !== null) for (const [k, v] of Object.entries(value)) walk(v, k);
  };
  const docs = body.trimStart().startsWith("{") ? [body] : body.split("\n\n").map((e) => e.replace(/^data: /, "")).filter((e) => e.startsWith("{"));
  for (const doc of docs) {
    try {
      walk(JSON.parse(doc), "");
    } catch {
      texts.push(doc); // a piece of an event cut by an abort: all of it counts as text
    }
  }
  return { texts, others };
}

/**
 * The texts of over-budget candidates (from the operator's audit trace) that the client got: each
 * over-budget text of 3+ characters that appears in a text the client received and in none of
 * the texts it may get (the answer, the prompt, candidates within budget, the response's fixed
 * words such as statuses).
 */
function leaked(body: string, record: ReturnType<typeof auditRecord>): string[] {
  const candidates = record.trace.flatMap((b) => b.candidates);
  const unsafe = candidates.filter((c) => isUnsafeCandidate(c, record.answer.budget)).map((c) => c.added).filter((t) => t.trim().length >= 3);
  const { texts, others } = clientStrings(body);
  const allowed = [record.answer.text, record.prompt ?? "", ...(record.messages ?? []).map((m) => m.content), ...candidates.filter((c) => !isUnsafeCandidate(c, record.answer.budget)).map((c) => c.added), ...others];
  return unsafe.filter((t) => texts.some((s) => s.includes(t)) && !allowed.some((s) => s.includes(t)));
}

describe("no byte of an over-budget candidate's text reaches a client, on any route", () => {
  let server: GuardServer;
  const audit = join(dir, "audit");
  // Every common word costs 1 at budget 0.5: most candidates go over budget, many mid-block.
  const SEARCH = { beams: 2, samples: 8, width: 4 };
  let checked = 0;

  beforeAll(async () => {
    server = await createGuardServer({ model: STORIES_MODEL, threads: 1, port: 0, cost: `rules:${strictRules}`, defaults: { budget: 0.5, maxTokens: 400, ...SEARCH }, clientTrace: "redacted", auditTraceDir: audit });
    await server.listen();
  });
  afterAll(() => server?.close({ graceSeconds: 0 }));

  /** Checks one response against its audit record; returns the over-budget texts the audit holds. */
  function expectNoUnsafeText(r: Response, id: string): number {
    const record = auditRecord(audit, id);
    const unsafe = record.trace.flatMap((b) => b.candidates).filter((c) => isUnsafeCandidate(c, record.answer.budget));
    expect(leaked(r.body, record)).toEqual([]);
    checked += unsafe.length;
    return unsafe.length;
  }

  const idOf = (body: string): string => /"id":"((?:chatcmpl|cmpl)-[0-9a-f]+)"/.exec(body)![1]!;

  test.each([
    ["completion, whole", TEXT, textBody({ max_tokens: 32, guard: { trace: true } })],
    ["completion, streamed", TEXT, textBody({ max_tokens: 32, stream: true, guard: { trace: true } })],
    ["completion, echoed and streamed", TEXT, textBody({ max_tokens: 32, echo: true, stream: true, guard: { trace: true } })],
    ["chat, whole", CHAT, chatBody({ max_tokens: 32, guard: { trace: true } })],
    ["chat, streamed with usage", CHAT, chatBody({ max_tokens: 32, stream: true, stream_options: { include_usage: true }, guard: { trace: true } })],
    ["completion with refuse", TEXT, textBody({ max_tokens: 32, guard: { trace: true, onUnsafe: "refuse" } })],
    ["completion without a trace (audited all the same)", TEXT, textBody({ max_tokens: 32, seed: 3 })],
  ])("%s", async (_what, route, body) => {
    const r = await send(server, "POST", route, {}, body);
    expect(r.status).toBe(200);
    const id = idOf(r.body);
    expect(expectNoUnsafeText(r, id)).toBeGreaterThan(0); // there was over-budget text to keep back
    // The client's trace (when it asked) still has every candidate, with statuses, costs, z and lengths.
    const summary = r.body.startsWith("{") ? JSON.parse(r.body).guard : JSON.parse(r.body.split("\n\n").filter((e) => e.includes('"guard"')).at(-1)!.replace(/^data: /, "")).guard;
    if ((body as { guard?: { trace?: boolean } }).guard?.trace) {
      // Every block and candidate of the audit trace, in order, with its status.
      const statuses = (trace: Array<{ candidates: Array<{ status: string }> }>) => trace.map((b) => b.candidates.map((c) => c.status));
      expect(statuses(summary.trace)).toEqual(statuses(auditRecord(audit, id).trace));
      const over = summary.trace.flatMap((b: any) => b.candidates).filter((c: any) => c.status === "dropped: over budget");
      expect(over.length).toBeGreaterThan(0);
      for (const c of over) {
        expect(c).not.toHaveProperty("added");
        expect(c).toMatchObject({ cost: expect.any(Number), z: expect.any(Number), length: expect.any(Number) });
      }
    } else expect(summary).not.toHaveProperty("trace");
  });

  test("errors: a request refused before it runs has no text at all", async () => {
    const r = await send(server, "POST", TEXT, {}, textBody({ guard: { trace: true, beams: 8, samples: 4 } }));
    expect(r.status).toBe(400);
    expect(clientStrings(r.body).texts.join("")).not.toMatch(new RegExp(`\\b(${STRICT_TERMS.join("|")})\\b`, "i"));
  });

  test("aborts: a client that leaves mid-stream got only committed text; the audit still has the whole search", async () => {
    const r = await send(server, "POST", TEXT, {}, textBody({ max_tokens: 400, ignore_eos: true, stream: true, guard: { trace: true } }), true);
    const id = idOf(r.body);
    const file = join(audit, `${id}.json`);
    const deadline = Date.now() + 20_000;
    while (!existsSync(file) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(auditRecord(audit, id)).toMatchObject({ answer: { stopReason: "aborted" } });
    expectNoUnsafeText(r, id);
  });

  test("errors after the stream started (shutdown cancels it): the error event carries no candidate text", async () => {
    const pending = send(server, "POST", CHAT, {}, chatBody({ max_tokens: 400, ignore_eos: true, stream: true, guard: { trace: true } }));
    const deadline = Date.now() + 20_000;
    while (server.stats.queue.running === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.close({ graceSeconds: 0 });
    const r = await pending;
    expect(r.body).toMatch(/"code":"shutting_down"/);
    expectNoUnsafeText(r, idOf(r.body));
    expect(checked).toBeGreaterThan(50); // over-budget candidates were there to leak, on every route
  });
});
