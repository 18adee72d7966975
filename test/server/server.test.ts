// The OpenAI-compatible server as a client meets it: the official `openai` npm client (streaming
// and not) against the real server on loopback, raw HTTP for bad input, cancellation when a client
// leaves, a full queue, and a bounded load test.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI, { APIError, RateLimitError } from "openai";
import { bindRequest } from "../../src/cost/costModel.js";
import { ASSISTANT_COST_DEFAULT } from "../../src/cost/defaults.js";
import { loadCostModel } from "../../src/cost/load.js";
import { createGuardServer, type GuardServer } from "../../src/server/index.js";
import { STORIES_MODEL } from "../helpers/models.js";

const API_KEY = "test-key-123";
const MODEL = "stories260K";
// Small search settings keep each answer to a few tens of milliseconds.
const SMALL = { beams: 2, samples: 4, width: 4 };
// A long answer (never ends at end-of-text), for the tests that cancel or queue behind one.
const LONG = { max_tokens: 1500, ignore_eos: true, guard: { beams: 1, samples: 16, width: 8 } };
const STRICT_TERMS = ["the", "was", "a", "she", "he", "they", "and"];

let server: GuardServer;
let url: string;
let client: OpenAI;
const logLines: string[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "inference-guard-server-"));
  const strict = join(dir, "strict.json");
  writeFileSync(strict, JSON.stringify({ terms: Object.fromEntries(STRICT_TERMS.map((t) => [t, 1])) }));
  server = await createGuardServer({
    model: STORIES_MODEL,
    threads: 1,
    port: 0,
    apiKey: API_KEY,
    maxQueue: 8,
    bodyLimit: 64 * 1024,
    costModels: { strict: `rules:${strict}` },
    defaults: { maxTokens: 32, samples: 8 },
    // An evaluation server: its operator lets clients search less and write longer answers than
    // its defaults, ask for the baselines and see traces (without unsafe text). What a default
    // server refuses is test/server/trustBoundary.test.ts's.
    allowClientOverride: ["beams", "samples", "max-tokens"],
    allowClientMethods: ["sample", "greedy"],
    clientTrace: "redacted",
    log: (line) => logLines.push(line),
  });
  url = await server.listen();
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: API_KEY, maxRetries: 0, timeout: 60_000 });
});

afterAll(async () => {
  await server?.close({ graceSeconds: 0 });
});

/** Raw HTTP POST with JSON (or any) body. */
async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}`, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json };
}

async function health(): Promise<any> {
  return (await fetch(`${url}/health`)).json();
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const idle = () => waitFor(async () => {
  const h = await health();
  return h.queue.running === 0 && h.queue.waiting === 0;
}, "an idle queue");

describe("the openai client", () => {
  test("lists the served model", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
    expect((await client.models.retrieve(MODEL)).id).toBe(MODEL);
  });

  test("chat completion: OpenAI's shape plus the guard summary", async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "system", content: "You tell stories." }, { role: "user", content: "Tell me a story" }],
      max_tokens: 24,
      seed: 5,
      guard: SMALL,
    } as never);
    expect(completion.object).toBe("chat.completion");
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe(MODEL);
    const choice = completion.choices[0]!;
    expect(choice.message.role).toBe("assistant");
    expect(typeof choice.message.content).toBe("string");
    expect(["stop", "length", "content_filter"]).toContain(choice.finish_reason);
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeLessThanOrEqual(24);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    const guard = (completion as any).guard;
    // No --cost: chat prompts get the built-in assistant model and its budget (src/cost/defaults.ts).
    // withinBudget alone holds by construction (the guard's final check empties an answer over
    // budget, with fallback set): a non-empty answer and no fallback show the search kept the budget.
    expect(guard).toMatchObject({ method: "guard", costModel: "assistant", budget: ASSISTANT_COST_DEFAULT.budget, withinBudget: true, fallback: false, seed: 5 });
    expect(choice.message.content!.length).toBeGreaterThan(0);
    expect(guard.cost).toBeLessThanOrEqual(ASSISTANT_COST_DEFAULT.budget);
    for (const key of ["fallback", "resamples", "stopReason"]) expect(guard).toHaveProperty(key);
    expect(guard).not.toHaveProperty("trace");
  });

  test("completion: standard fields map to the search (max_tokens, seed) and guard settings apply", async () => {
    const completion = await client.completions.create({
      model: MODEL,
      prompt: "Once upon a time",
      max_tokens: 16,
      seed: 9,
      temperature: 0.8,
      guard: { ...SMALL, budget: 0.25 },
    } as never);
    expect(completion.object).toBe("text_completion");
    expect(completion.choices[0]!.text.length).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeLessThanOrEqual(16);
    expect((completion as any).guard).toMatchObject({ budget: 0.25, seed: 9, withinBudget: true, fallback: false });
  });

  test("streaming sends the same text as the whole answer, in several committed pieces, then the guard summary", async () => {
    const request = { model: MODEL, prompt: "Once upon a time", max_tokens: 32, seed: 11, guard: { beams: 1, samples: 4, width: 4 } };
    const whole = await client.completions.create(request as never);
    const stream = await client.completions.create({ ...request, stream: true } as never);
    const pieces: string[] = [];
    let last: any;
    for await (const chunk of stream as any) {
      if (chunk.choices[0]?.text) pieces.push(chunk.choices[0].text);
      last = chunk;
    }
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe(whole.choices[0]!.text);
    expect(last.choices[0].finish_reason).toBe(whole.choices[0]!.finish_reason);
    expect(last.guard).toMatchObject({ cost: (whole as any).guard.cost, seed: 11, withinBudget: true, fallback: false });
    expect(pieces.join("").length).toBeGreaterThan(0);
  });

  test("chat streaming: role first, usage chunk on request, guard summary last", async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Tell me a story" }],
      max_tokens: 24,
      seed: 3,
      stream: true,
      stream_options: { include_usage: true },
      guard: SMALL,
    } as never);
    const chunks: any[] = [];
    for await (const chunk of stream as any) chunks.push(chunk);
    expect(chunks[0].object).toBe("chat.completion.chunk");
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    const usageChunk = chunks.at(-1);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage.completion_tokens).toBeGreaterThan(0);
    expect(usageChunk.guard).toMatchObject({ withinBudget: true, fallback: false, seed: 3 });
    expect(chunks.at(-2).choices[0].finish_reason).not.toBeNull();
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text.length).toBeGreaterThan(0);
    // The streamed text is the answer the summary describes: its cost is the reported one.
    // (The chat default charges the answer to its request, so it is bound to the request's last user message.)
    const assistant = bindRequest(await loadCostModel(ASSISTANT_COST_DEFAULT.spec), { messages: [{ role: "user", content: "Tell me a story" }] });
    expect(await assistant.cost(text)).toBe(usageChunk.guard.cost);
  });

  test("a request picks a named cost model, and the answer keeps within its budget", async () => {
    const request = { model: MODEL, prompt: "Once upon a time", max_tokens: 32, seed: 2 };
    const plain = await client.completions.create({ ...request, guard: SMALL } as never);
    const strict = await client.completions.create({ ...request, guard: { ...SMALL, cost: "strict", budget: 0.5 } } as never);
    const words = (text: string) => text.toLowerCase().match(/[a-z']+/g) ?? [];
    // The default lexicon does not mind common words; the strict one charges each, so none survive.
    expect(words(plain.choices[0]!.text).some((w) => STRICT_TERMS.includes(w))).toBe(true);
    expect(words(strict.choices[0]!.text).filter((w) => STRICT_TERMS.includes(w))).toEqual([]);
    expect((strict as any).guard).toMatchObject({ costModel: "strict", cost: 0, budget: 0.5, withinBudget: true, fallback: false });
    expect(strict.choices[0]!.text.length).toBeGreaterThan(0); // the search found a text without them, not an emptied one
  });

  test("requests run at once, sharing the batch, and each keeps its own seed, budget, cost model and stream", async () => {
    await idle();
    const requests = [
      { model: MODEL, prompt: "Once upon a time", max_tokens: 24, seed: 21, guard: SMALL },
      { model: MODEL, prompt: "The little dog", max_tokens: 16, seed: 22, guard: { ...SMALL, cost: "strict", budget: 0.5 } },
      { model: MODEL, prompt: "Lily went to the park", max_tokens: 20, seed: 23, guard: { budget: 0.75 } },
    ];
    const streamed = async (request: object): Promise<{ text: string; guard: any }> => {
      let text = "";
      let guard: any;
      for await (const chunk of (await client.completions.create({ ...request, stream: true } as never)) as any) {
        text += chunk.choices[0]?.text ?? "";
        guard = chunk.guard ?? guard;
      }
      return { text, guard };
    };
    const oneAtATime: Array<{ text: string; guard: any }> = [];
    for (const r of requests) oneAtATime.push(await streamed(r));
    let most = 0;
    const watching = setInterval(() => (most = Math.max(most, server.stats.queue.running)), 1);
    const together = await Promise.all(requests.map(streamed));
    clearInterval(watching);
    expect(most).toBeGreaterThan(1);
    together.forEach((r, i) => {
      expect(r.text).toBe(oneAtATime[i].text);
      expect(r.guard).toMatchObject({ seed: requests[i].seed, withinBudget: true, fallback: false, cost: oneAtATime[i].guard.cost, budget: oneAtATime[i].guard.budget });
      expect(r.text.length).toBeGreaterThan(0);
    });
    expect(together[1].guard).toMatchObject({ costModel: "strict", budget: 0.5 });
  });

  test("a trace comes back on request", async () => {
    const completion = await client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 12, guard: { ...SMALL, trace: true } } as never);
    const trace = (completion as any).guard.trace;
    expect(trace.length).toBeGreaterThan(0);
    expect(trace[0].candidates[0]).toHaveProperty("z");
  });

  test("baseline methods are available per request", async () => {
    const completion = await client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 10, seed: 1, guard: { method: "greedy" } } as never);
    expect((completion as any).guard.method).toBe("greedy");
    expect(completion.usage!.completion_tokens).toBe(10);
  });

  test("errors reach the client as typed errors", async () => {
    await expect(client.models.retrieve("gpt-4")).rejects.toMatchObject({ status: 404 });
    const noKey = new OpenAI({ baseURL: `${url}/v1`, apiKey: "wrong", maxRetries: 0 });
    await expect(noKey.models.list()).rejects.toMatchObject({ status: 401 });
    await expect(client.completions.create({ model: MODEL, prompt: "x", guard: { samples: 2, beams: 4 } } as never)).rejects.toBeInstanceOf(APIError);
  });
});

describe("OpenAI clients as they are: any model name, standard fields honoured or accepted at neutral values", () => {
  test("any model name is served by the one model, and the answer names the real one", async () => {
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 8, guard: SMALL } as never);
    expect(completion.model).toBe(MODEL);
    expect((await client.models.list()).data.map((m) => m.id)).toEqual([MODEL]);
  });

  test("the fields clients send by default are accepted at their neutral values", async () => {
    const completion = await client.chat.completions.create({
      model: "gpt-4o-mini", messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 8,
      frequency_penalty: 0, presence_penalty: 0, logprobs: false, response_format: { type: "text" }, n: 1, user: "user-7", top_p: 1, temperature: 1,
      guard: SMALL,
    } as never);
    expect(completion.choices).toHaveLength(1);
    const text = await client.completions.create({ model: "davinci-002", prompt: "Once", max_tokens: 4, frequency_penalty: 0, presence_penalty: 0, best_of: 1, echo: false, guard: SMALL } as never);
    expect(text.choices[0]!.text.length).toBeGreaterThan(0);
  });

  test("stop sequences end the answer before them (finish_reason stop), streamed or not", async () => {
    const request = { model: MODEL, prompt: "Once upon a time", max_tokens: 64, seed: 4, stop: ["."], guard: SMALL };
    const whole = await client.completions.create(request as never);
    expect(whole.choices[0]!.finish_reason).toBe("stop");
    expect(whole.choices[0]!.text).not.toContain(".");
    expect((whole as any).guard.stopReason).toBe("stop-sequence");
    const stream = await client.completions.create({ ...request, stream: true } as never);
    let text = "";
    for await (const chunk of stream as any) text += chunk.choices[0]?.text ?? "";
    expect(text).toBe(whole.choices[0]!.text);
  });

  test("echo puts the prompt before the answer", async () => {
    const request = { model: MODEL, prompt: "Once upon a time", max_tokens: 8, seed: 4, guard: SMALL };
    const plain = await client.completions.create(request as never);
    const echoed = await client.completions.create({ ...request, echo: true } as never);
    expect(echoed.choices[0]!.text).toBe("Once upon a time" + plain.choices[0]!.text);
    // Streamed, the echo rides on the first chunk of text (or the closing one), in front of it.
    const stream = await client.completions.create({ ...request, echo: true, stream: true } as never);
    let streamed = "";
    for await (const chunk of stream as any) streamed += chunk.choices[0]?.text ?? "";
    expect(streamed).toBe("Once upon a time" + plain.choices[0]!.text);
  });

  test("the user field is logged with the request", async () => {
    await client.completions.create({ model: MODEL, prompt: "Once", max_tokens: 2, user: "user-99", guard: SMALL } as never);
    expect(logLines.some((line) => line.includes('user="user-99"'))).toBe(true);
  });

  test("max_tokens 1024 works at default search settings; beyond the model's context the answer ends with finish_reason length", async () => {
    const long = await client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 1024, ignore_eos: true, seed: 1 } as never);
    expect(long.usage!.completion_tokens).toBe(1024);
    expect([long.choices[0]!.finish_reason, (long as any).guard.stopReason]).toEqual(["length", "max-tokens"]);
    const huge = await client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 100_000, ignore_eos: true, seed: 1, guard: { method: "sample" } } as never);
    expect(huge.usage!.prompt_tokens + huge.usage!.completion_tokens).toBe(2048); // stories260K's trained context
    expect([huge.choices[0]!.finish_reason, (huge as any).guard.stopReason]).toEqual(["length", "context"]);
  });
});

describe("bad input over raw HTTP: a clear 4xx, never a crash", () => {
  const chat = { model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 4 };
  test.each([
    ["bad JSON", "/v1/chat/completions", '{"model": "stories260K", "messages": [', {}, 400, /not valid JSON/],
    ["empty body", "/v1/completions", "", {}, 400, /empty|JSON object/i],
    ["messages of the wrong type", "/v1/chat/completions", { ...chat, messages: "hi" }, {}, 400, /messages/],
    ["a message without content", "/v1/chat/completions", { ...chat, messages: [{ role: "user" }] }, {}, 400, /messages\.0\.content/],
    ["max_tokens not an integer", "/v1/chat/completions", { ...chat, max_tokens: 2.5 }, {}, 400, /max_tokens/],
    ["temperature out of range", "/v1/chat/completions", { ...chat, temperature: 5 }, {}, 400, /temperature/],
    ["prompt of the wrong type", "/v1/completions", { model: MODEL, prompt: 42 }, {}, 400, /prompt/],
    ["an unknown guard setting", "/v1/completions", { model: MODEL, prompt: "x", guard: { beems: 2 } }, {}, 400, /beems/],
    ["samples below beams", "/v1/completions", { model: MODEL, prompt: "x", guard: { beams: 8, samples: 4 } }, {}, 400, /guard\.samples/],
    ["an unknown cost model", "/v1/completions", { model: MODEL, prompt: "x", guard: { cost: "lax" } }, {}, 400, /unknown cost model "lax".*default, assistant, strict/],
    ["an unsupported feature", "/v1/chat/completions", { ...chat, tools: [{ type: "function", function: { name: "f" } }] }, {}, 400, /tools are not supported/],
    ["a field that would change the answer", "/v1/chat/completions", { ...chat, frequency_penalty: 1 }, {}, 400, /frequency_penalty: only 0 is supported/],
    ["an unknown field", "/v1/completions", { model: MODEL, prompt: "x", frobnicate: 1 }, {}, 400, /unknown field "frobnicate"/],
    ["n > 1", "/v1/chat/completions", { ...chat, n: 2 }, {}, 400, /n = 1/],
    ["a setting the engine cannot hold", "/v1/completions", { model: MODEL, prompt: "x", guard: { beams: 10, samples: 60 } }, {}, 400, /64 sequences/],
    ["the same, streaming", "/v1/completions", { model: MODEL, prompt: "x", stream: true, guard: { beams: 10, samples: 60 } }, {}, 400, /64 sequences/],
    ["a prompt longer than the context", "/v1/completions", { model: MODEL, prompt: "Once upon a time there was a dog. ".repeat(300) }, {}, 400, /prompt has \d+ tokens/],
    ["the same, echoed and streamed (the echo waits for the search: a 400, not an error inside a 200 stream)", "/v1/completions", { model: MODEL, prompt: "Once upon a time there was a dog. ".repeat(300), echo: true, stream: true }, {}, 400, /prompt has \d+ tokens/],
    ["a __proto__ key (prototype poisoning)", "/v1/completions", '{"model": "stories260K", "prompt": "x", "guard": {"__proto__": {"beams": 1}}}', {}, 400, /key "__proto__" \(at guard\.__proto__\), which is refused/],
    ["JSON cut short", "/v1/completions", '{"model": "stories260K", "prompt": "x", "max_tok', {}, 400, /the request body is not valid JSON: .*JSON/],
    ["an oversize body", "/v1/completions", { model: MODEL, prompt: "x".repeat(100_000) }, {}, 413, /larger than the server's limit of 65536 bytes/],
    ["a missing API key", "/v1/completions", { model: MODEL, prompt: "x" }, { authorization: "" }, 401, /missing API key/],
    ["a wrong API key", "/v1/completions", { model: MODEL, prompt: "x" }, { authorization: "Bearer nope" }, 401, /incorrect API key/],
    ["a body that is not JSON", "/v1/completions", "prompt=x", { "content-type": "text/plain" }, 415, /unsupported Content-Type "text\/plain": send the body as JSON/],
    ["an unknown route", "/v1/embeddings", { model: MODEL, input: "x" }, {}, 404, /no route for POST \/v1\/embeddings/],
  ] as const)("%s", async (_name, path, body, headers, status, message) => {
    const r = await post(path, body, headers as Record<string, string>);
    expect(r.status).toBe(status);
    expect(r.headers.get("content-type")).toMatch(/application\/json/);
    expect(r.json.error.message).toMatch(message);
    expect(typeof r.json.error.type).toBe("string");
  });

  test("the server is still healthy afterwards; /health needs no key", async () => {
    const h = await health();
    expect(h).toMatchObject({ status: "ok", model: MODEL, costModels: ["default", "assistant", "strict"] });
    expect(h.requests.failed).toBe(0);
    expect((await post("/v1/completions", { model: MODEL, prompt: "Once", max_tokens: 4 })).status).toBe(200);
  });
});

describe("cancellation and a full queue", () => {
  test("a streaming client that disconnects aborts its generation and frees the server", async () => {
    await idle();
    const before = (await health()).requests.cancelled;
    const controller = new AbortController();
    const stream = await client.completions.create({ model: MODEL, prompt: "Once upon a time", stream: true, ...LONG } as never, { signal: controller.signal });
    let chunks = 0;
    const started = Date.now();
    // The openai client ends the iteration quietly when its own signal aborts.
    for await (const _chunk of stream as any) {
      if (++chunks === 2) controller.abort();
    }
    expect(chunks).toBe(2);
    await idle();
    // The 1,500-token answer takes ~10 s: ending at once means it was cut short, not finished.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await health()).requests.cancelled).toBe(before + 1);
    const next = await client.completions.create({ model: MODEL, prompt: "Once", max_tokens: 8, guard: SMALL } as never);
    expect(next.choices[0]!.text.length).toBeGreaterThan(0);
  });

  test("a queued client that disconnects is dropped from the queue; beyond the queue, 429 with Retry-After", async () => {
    await idle();
    // Every slot busy with a long answer (the server runs `parallel` requests at once).
    const { parallel } = (await health()).queue;
    expect(parallel).toBe(4);
    const long = new AbortController();
    const running = Promise.all(
      Array.from({ length: parallel }, () => client.completions.create({ model: MODEL, prompt: "Once upon a time", ...LONG } as never, { signal: long.signal }).catch((e) => e)),
    );
    await waitFor(async () => (await health()).queue.running === parallel, "the long requests to start");

    const queued = new AbortController();
    const dropped = client.completions.create({ model: MODEL, prompt: "Once", max_tokens: 4 } as never, { signal: queued.signal }).catch((e) => e);
    await waitFor(async () => (await health()).queue.waiting === 1, "the request to queue");
    queued.abort();
    await waitFor(async () => (await health()).queue.waiting === 0, "the queue to drop it");
    expect(await dropped).toBeInstanceOf(Error);

    // Fill the 8 places, then one more: refused at once.
    const fillers = Array.from({ length: 8 }, () => {
      const c = new AbortController();
      return { c, done: client.completions.create({ model: MODEL, prompt: "Once", max_tokens: 4 } as never, { signal: c.signal }).catch((e) => e) };
    });
    await waitFor(async () => (await health()).queue.waiting === 8, "the queue to fill");
    const refused = await post("/v1/completions", { model: MODEL, prompt: "Once", max_tokens: 4 });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.json.error.message).toMatch(/busy/);
    // The estimate (from measured job durations: test/server/jobQueue.test.ts) comes as OpenAI's
    // retry-after-ms, which the openai clients prefer, and as the standard whole seconds.
    const ms = Number(refused.headers.get("retry-after-ms"));
    expect(ms).toBeGreaterThan(0);
    expect(Number(refused.headers.get("retry-after"))).toBe(Math.max(1, Math.ceil(ms / 1000)));

    for (const f of fillers) f.c.abort();
    long.abort();
    await Promise.all([running, ...fillers.map((f) => f.done)]);
    await idle();
    expect((await health()).status).toBe("ok");
  });
});

test("load: 50 concurrent clients are each answered or refused cleanly; none lost; the server stays healthy", async () => {
  await idle();
  const before = (await health()).requests;
  const started = Date.now();
  const outcomes = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      try {
        const r =
          i % 2 === 0
            ? await client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 16, seed: i, guard: SMALL } as never)
            : await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "A story" }], max_tokens: 16, seed: i, guard: SMALL } as never);
        const guard = (r as any).guard;
        expect(guard).toMatchObject({ withinBudget: true, fallback: false });
        expect(r.choices).toHaveLength(1);
        return "answered";
      } catch (error) {
        if (error instanceof RateLimitError && Number(error.headers?.get("retry-after")) >= 1) return "refused";
        throw error; // anything else (a reset connection, a 500) fails the test
      }
    }),
  );
  const answered = outcomes.filter((o) => o === "answered").length;
  const refused = outcomes.filter((o) => o === "refused").length;
  expect(answered + refused).toBe(50);
  expect(answered).toBeGreaterThanOrEqual(9); // one running + eight waiting at the very least
  expect(Date.now() - started).toBeLessThan(60_000);
  await idle();
  const after = await health();
  expect(after.status).toBe("ok");
  expect(after.requests.completed - before.completed).toBe(answered);
  expect(after.requests.refused - before.refused).toBe(refused);
  expect(after.requests.failed).toBe(0);
  const check = await client.completions.create({ model: MODEL, prompt: "Once", max_tokens: 8, guard: SMALL } as never);
  expect((check as any).guard).toMatchObject({ withinBudget: true, fallback: false });
  expect((check as any).choices[0].text).not.toBe("");
});
