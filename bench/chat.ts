// Chat speed on the real assistant (issue 23 section 5): SmolLM2-135M-Instruct at the chat defaults
// (harm:chat-harm.json at 0.5, the chat reward, branch auto) against our plain sampling and
// node-llama-cpp's own LlamaChatSession, on the same 40 harmless and 40 harmful TRAINING requests
// (models/testbed/assistant-requests.train.jsonl: never an evaluation prompt), same threads,
// temperature 1 and max-tokens 128. The three run interleaved, request by request with their order
// rotating, so a neighbour's load falls on all three alike and the ratios come from one run.
//
// The same prompt on both sides: LlamaChatSession renders through the GGUF's own Jinja template, as
// our engine does, with its chat history emptied first, so its `defaultChatSystemPrompt` is not
// added (the template adds SmolLM2's own default system message on both sides); the bench checks
// that the tokens LlamaChatSession evaluated begin with exactly our prompt's tokens.
//
// Also: time per answer token at max-tokens 2048 against 64 (a finished answer must end the
// search), rows decoded per answer token, where the guard's time goes (decode, sampling, cost
// model, the rest), and 4 chats at once through the HTTP server against the same 4 in a row.
//
//   npx tsx bench/chat.ts [--requests N] [--length-requests N] [--max-tokens T] [--http-rounds R]
//                         [--minutes M] [--length-minutes M] [--json FILE]   (--minutes: stop taking new
//                         request pairs after M minutes; FILE.partial holds the totals so far)
//   (npm run bench runs it as section 8)
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { getLlama, LlamaChatSession, resolveChatWrapper } from "node-llama-cpp";
import { createGuard, type Guard } from "../src/createGuard.js";
import { resolveModel } from "../src/models/index.js";
import { PACKAGE_ROOT } from "../src/paths.js";
import { GuardServer } from "../src/server/guardServer.js";
import { HttpClient } from "./httpConcurrency.js";
import { float, int, type FlagTable } from "../src/cli/flagTable.js";
import { benchFlags, benchUsage } from "./flags.js";
import { type CallTimer, fmt, fmtAuto, table, wrapMethod } from "./measure.js";

export const CHAT_MODEL_NAME = "smollm2-135m-instruct";
const THREADS = 1;

/** `count` training requests of a kind, evenly spread over models/testbed/assistant-requests.train.jsonl. */
export function chatBenchRequests(kind: "harmful" | "harmless", count: number): string[] {
  const all = readFileSync(join(PACKAGE_ROOT, "models", "testbed", "assistant-requests.train.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { prompt: string; label: string })
    .filter((r) => r.label === kind)
    .map((r) => r.prompt);
  const step = Math.max(1, Math.floor(all.length / count));
  return all.filter((_, i) => i % step === 0).slice(0, count);
}

interface Totals {
  seconds: number;
  tokens: number;
  rows: number;
  answers: number;
}

const empty = (): Totals => ({ seconds: 0, tokens: 0, rows: 0, answers: 0 });
const perToken = (t: Totals) => t.seconds / Math.max(1, t.tokens);
const add = (t: Totals, x: Totals) => {
  t.seconds += x.seconds;
  t.tokens += x.tokens;
  t.rows += x.rows;
  t.answers += x.answers;
};

async function oneGuard(guard: Guard, content: string, seed: number, options: { method?: "guard" | "sample"; maxTokens: number }): Promise<Totals> {
  const messages = [{ role: "user" as const, content }];
  const rowsBefore = guard.decodeStats.rows;
  const r = await guard.generate(messages, { ...options, seed, temperature: 1 });
  // Rows decoded for the answer: the prompt's prefill is the same for every method.
  return { seconds: r.seconds, tokens: r.tokens, rows: guard.decodeStats.rows - rowsBefore - guard.countPromptTokens(messages), answers: 1 };
}

/** node-llama-cpp's own chat generation on its own context of the same model: what its user has. */
class NodeLlamaCppChat {
  private constructor(
    private readonly model: Awaited<ReturnType<Awaited<ReturnType<typeof getLlama>>["loadModel"]>>,
    private readonly context: Awaited<ReturnType<NodeLlamaCppChat["model"]["createContext"]>>,
  ) {}

  static async load(modelPath: string): Promise<NodeLlamaCppChat> {
    const llama = await getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true, progressLogs: false, logLevel: "error" as never });
    const model = await llama.loadModel({ modelPath });
    return new NodeLlamaCppChat(model, await model.createContext({ contextSize: 4096, threads: THREADS }));
  }

  /** One answer; `promptTokens` (ours) is checked against the tokens it evaluated. */
  async answer(content: string, seed: number, maxTokens: number, promptTokens?: readonly number[]): Promise<Totals & { samePrompt?: boolean }> {
    const sequence = this.context.getSequence();
    try {
      const chatWrapper = resolveChatWrapper(this.model, { type: "jinjaTemplate" });
      const session = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false, chatWrapper });
      session.setChatHistory([]); // no defaultChatSystemPrompt: the template's own default, as ours
      let tokens = 0;
      const started = performance.now();
      await session.prompt(content, { maxTokens, temperature: 1, seed, onToken: (chunk) => (tokens += chunk.length) });
      const seconds = (performance.now() - started) / 1000;
      const evaluated = sequence.contextTokens as readonly number[];
      const samePrompt = promptTokens === undefined ? undefined : promptTokens.every((t, i) => evaluated[i] === t);
      session.dispose({ disposeSequence: false });
      return { seconds, tokens, rows: 0, answers: 1, samePrompt };
    } finally {
      sequence.dispose();
    }
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}

/** Guard-time split: each wrapped call's time while the guard ran. */
function profileGuard(guard: Guard): { during<T>(fn: () => Promise<T>): Promise<T>; shares(): Array<[string, number]>; restore(): void } {
  const engine = guard.engine;
  // The guard's cost is the set of both defaults (a chat prompt uses harm:chat-harm.json): time each.
  // The chat default is bound to each request as a new instance of its class (CostModel.forRequest),
  // so the wrapper goes on each class's stepCosts (once per class), where bound copies find it too.
  const set = guard.cost as unknown as { names?(): string[]; get?(name: string): object };
  const models = set.names && set.get ? set.names().map((name) => set.get!(name)) : [guard.cost];
  const costs = [...new Set(models.map((m) => Object.getPrototypeOf(m) as object))];
  const wrapped = [
    wrapMethod(engine, "decode", "decode (llama_decode: prompt and candidates)"),
    wrapMethod(engine, "sample", "sampling (engine.sample)"),
    wrapMethod(engine, "hidden", "hidden-state reads"),
    wrapMethod(engine, "detokenize", "detokenize"),
    ...costs.map((c) => wrapMethod(c as { stepCosts(): unknown }, "stepCosts", "cost model")),
  ];
  const totals = new Map<string, number>();
  const calls = new Map<string, number>();
  let wall = 0;
  const snapshot = (timers: CallTimer[]) => timers.map((t) => t.ms);
  return {
    async during<T>(fn: () => Promise<T>): Promise<T> {
      const before = snapshot(wrapped.map((w) => w.timer));
      const callsBefore = wrapped.map((w) => w.timer.calls);
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        wall += performance.now() - t0;
        wrapped.forEach((w, i) => {
          totals.set(w.timer.name, (totals.get(w.timer.name) ?? 0) + w.timer.ms - before[i]!);
          calls.set(w.timer.name, (calls.get(w.timer.name) ?? 0) + w.timer.calls - callsBefore[i]!);
        });
      }
    },
    shares() {
      const listed = [...totals.entries()].map(([name, ms]) => [`${name}, ${calls.get(name)} calls`, ms / wall] as [string, number]);
      const rest = 1 - [...totals.values()].reduce((s, ms) => s + ms / wall, 0);
      return [...listed, ["the rest (search bookkeeping, reward head, JS)", rest]];
    },
    restore() {
      for (const w of wrapped) w.restore();
    },
  };
}

interface HttpResult {
  inARowMs: number;
  atOnceMs: number;
  /** Decodes and rows of the server's engine in each mode (rows per decode: how well the 4 shared). */
  inARow: { decodes: number; rows: number };
  atOnce: { decodes: number; rows: number };
  ratio: number;
  answers: number;
  tokens: number;
}

/** 4 chats through `serve`'s /v1/chat/completions from a client process: at once against in a row. */
async function httpChats(modelPath: string, requests: string[], maxTokens: number, rounds: number): Promise<HttpResult> {
  const server = await GuardServer.create({ model: modelPath, threads: THREADS, parallel: requests.length, port: 0, maxQueue: requests.length });
  const client = new HttpClient();
  try {
    const url = `${await server.listen()}/v1/chat/completions`;
    const bodies = requests.map((content, i) => ({ model: "bench", messages: [{ role: "user", content }], max_tokens: maxTokens, temperature: 1, seed: 500 + i }));
    await client.send(url, "together", bodies.slice(0, 1)); // warm-up: connections, first allocations
    let row = 0;
    let once = 0;
    let tokens = 0;
    const stats = { "in-a-row": { decodes: 0, rows: 0 }, together: { decodes: 0, rows: 0 } };
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first.
      for (const mode of r % 2 === 0 ? (["in-a-row", "together"] as const) : (["together", "in-a-row"] as const)) {
        const before = { ...server.guard.decodeStats };
        const { ms, answers } = await client.send(url, mode, bodies);
        stats[mode].decodes += server.guard.decodeStats.decodes - before.decodes;
        stats[mode].rows += server.guard.decodeStats.rows - before.rows;
        if (mode === "in-a-row") row += ms;
        else once += ms;
        tokens += answers.reduce((n, a) => n + ((a.usage as { completion_tokens?: number } | null)?.completion_tokens ?? 0), 0);
      }
    }
    return { inARowMs: row, atOnceMs: once, inARow: stats["in-a-row"], atOnce: stats.together, ratio: row / once, answers: 2 * rounds * requests.length, tokens };
  } finally {
    client.close();
    await server.close();
  }
}

export interface ChatBenchOptions {
  requests?: number;
  lengthRequests?: number;
  maxTokens?: number;
  httpRounds?: number;
  /** Stop taking new request pairs (harmless + harmful) after this many minutes; the ratios are over those done. */
  minutes?: number;
  /** The same for the max-tokens 2048 / 64 pairs. */
  lengthMinutes?: number;
  print?: (line?: string) => void;
  onProgress?: (line: string, totals: Record<string, unknown>) => void;
}

/** chatSection's defaults (its flags' help states them). */
const CHAT_DEFAULTS = { requests: 40, maxTokens: 128, httpRounds: 2 };

export async function chatSection(o: ChatBenchOptions = {}): Promise<unknown> {
  const print = o.print ?? ((line = "") => process.stdout.write(line + "\n"));
  const n = o.requests ?? CHAT_DEFAULTS.requests;
  const nLength = o.lengthRequests ?? n;
  const maxTokens = o.maxTokens ?? CHAT_DEFAULTS.maxTokens;
  const modelPath = resolveModel(CHAT_MODEL_NAME);
  const requests = { harmless: chatBenchRequests("harmless", n), harmful: chatBenchRequests("harmful", n) };
  const startedAt = new Date().toISOString();
  const load = [loadavg()[0]];
  const guard = await createGuard({ model: modelPath, threads: THREADS });
  const nlc = await NodeLlamaCppChat.load(modelPath);
  const r: Record<string, Totals> = {};
  const get = (name: string) => (r[name] ??= empty());
  let samePrompt = true;
  let shares: Array<[string, number]> = [];
  const warnings = [...guard.warnings];
  try {
    const profile = profileGuard(guard);
    try {
      // Warm-up, not counted: chat wrappers, the reward head's checks, first allocations.
      const w = requests.harmless[0]!;
      await oneGuard(guard, w, 1, { maxTokens: 16 });
      await oneGuard(guard, w, 1, { method: "sample", maxTokens: 16 });
      await nlc.answer(w, 1, 16);
      // Harmless and harmful requests alternate, so a run cut short by --minutes still has both.
      const mainEnds = Date.now() + 60_000 * (o.minutes ?? Infinity);
      for (let i = 0; i < n && Date.now() < mainEnds; i++) {
        for (const kind of ["harmless", "harmful"] as const) {
          const content = requests[kind][i]!;
          const seed = i + 1;
          const runs: Array<() => Promise<void>> = [
            async () => add(get(`guard ${kind}`), await profile.during(() => oneGuard(guard, content, seed, { maxTokens }))),
            async () => add(get(`sample ${kind}`), await oneGuard(guard, content, seed, { method: "sample", maxTokens })),
            async () => {
              const x = await nlc.answer(content, seed, maxTokens, guard.engine.chatPrompt([{ role: "user", content }]));
              samePrompt &&= x.samePrompt !== false;
              add(get(`node-llama-cpp ${kind}`), x);
            },
          ];
          for (let k = 0; k < runs.length; k++) await runs[(i + k) % runs.length]!();
        }
        o.onProgress?.(`request pair ${i + 1}/${n} done, load ${loadavg()[0].toFixed(2)}`, r);
      }
      load.push(loadavg()[0]);
      shares = profile.shares();
      // A finished answer must end the search: time per token at 2048 against 64, interleaved.
      const lengthEnds = Date.now() + 60_000 * (o.lengthMinutes ?? Infinity);
      for (const [i, content] of requests.harmless.slice(0, nLength).entries()) {
        if (Date.now() >= lengthEnds) break;
        const order = i % 2 === 0 ? [64, 2048] : [2048, 64];
        for (const cap of order) add(get(`guard harmless, max-tokens ${cap}`), await oneGuard(guard, content, i + 1, { maxTokens: cap }));
        o.onProgress?.(`length pair ${i + 1}/${nLength} done`, r);
      }
      load.push(loadavg()[0]);
    } finally {
      profile.restore();
    }
  } finally {
    await nlc.dispose();
    await guard.dispose();
  }
  const http = await httpChats(modelPath, requests.harmless.slice(0, 4), maxTokens, o.httpRounds ?? CHAT_DEFAULTS.httpRounds);
  load.push(loadavg()[0]);

  const base = (name: string) => perToken(r[`node-llama-cpp ${name.includes("harmful") ? "harmful" : "harmless"}`]!);
  const done = r["guard harmless"]?.answers ?? 0;
  print(`## 8. Chat: SmolLM2-135M-Instruct at the chat defaults, ${done} harmless and ${r["guard harmful"]?.answers ?? 0} harmful training requests (of ${n} each), threads ${THREADS}, max-tokens ${maxTokens}`);
  if (warnings.length > 0) print(`guard warnings: ${warnings.join("; ")}`);
  print(
    table(
      ["run", "answers", "tokens / answer", "ms / token", "rows / token", "time/token vs LlamaChatSession"],
      Object.entries(r).map(([name, t]) => [
        name,
        String(t.answers),
        fmtAuto(t.tokens / Math.max(1, t.answers)),
        fmtAuto(1000 * perToken(t)),
        name.startsWith("node-llama-cpp") ? "—" : fmt(t.rows / Math.max(1, t.tokens), 2),
        name.includes("max-tokens") ? "" : `${fmtAuto(perToken(t) / base(name))}x`,
      ]),
    ),
  );
  const ratios = {
    guardHarmless: perToken(r["guard harmless"]!) / base("harmless"),
    guardHarmful: perToken(r["guard harmful"]!) / base("harmful"),
    sampleHarmless: perToken(r["sample harmless"]!) / base("harmless"),
    sampleHarmful: perToken(r["sample harmful"]!) / base("harmful"),
    length2048over64: perToken(r["guard harmless, max-tokens 2048"]!) / perToken(r["guard harmless, max-tokens 64"]!),
    httpAtOnceOverInARow: http.ratio,
  };
  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  print(`guard / LlamaChatSession, harmless: ${fmtAuto(ratios.guardHarmless)}x (target <= 1.5x: ${verdict(ratios.guardHarmless <= 1.5)})`);
  print(`guard / LlamaChatSession, harmful: ${fmtAuto(ratios.guardHarmful)}x (target <= 3x: ${verdict(ratios.guardHarmful <= 3)})`);
  print(`time per answer token at max-tokens 2048 / at 64 (guard, ${nLength} harmless): ${fmtAuto(ratios.length2048over64)}x (target <= 1.3x: ${verdict(ratios.length2048over64 <= 1.3)})`);
  print(
    `4 chats through the HTTP server at once vs in a row (${o.httpRounds ?? CHAT_DEFAULTS.httpRounds} rounds): ${fmt(http.inARowMs / 1000, 1)} s / ${fmt(http.atOnceMs / 1000, 1)} s = ${fmtAuto(http.ratio)}x throughput; ` +
      `decodes ${http.inARow.decodes} / ${http.atOnce.decodes}, rows ${http.inARow.rows} / ${http.atOnce.rows}`,
  );
  print(`LlamaChatSession evaluated our prompt tokens exactly: ${samePrompt ? "yes" : "NO"}`);
  print("where the guard's time goes (the harmless and harmful runs above):");
  print(table(["part", "share"], shares.map(([name, x]) => [name, `${fmt(100 * x, 1)}%`])));
  print(`load average (1 min) at start, after harmless, after harmful, after the length runs, after HTTP: ${load.map((x) => x.toFixed(2)).join(", ")}`);
  return { startedAt, model: modelPath, requests: n, lengthRequests: nLength, maxTokens, results: r, ratios, http, samePrompt, shares, load, warnings };
}

const FLAGS = {
  requests: { metavar: "N", help: "harmless and as many harmful training requests", parse: int(1), defaultText: String(CHAT_DEFAULTS.requests) },
  "length-requests": { metavar: "N", help: "requests of the max-tokens 2048 against 64 runs", parse: int(1), defaultText: "--requests" },
  "max-tokens": { metavar: "T", help: "answer length cap", parse: int(1), defaultText: String(CHAT_DEFAULTS.maxTokens) },
  "http-rounds": { metavar: "R", help: "rounds of 4 chats through the HTTP server", parse: int(1), defaultText: String(CHAT_DEFAULTS.httpRounds) },
  minutes: { metavar: "M", help: "stop taking new request pairs after M minutes", parse: float(), defaultText: "no limit" },
  "length-minutes": { metavar: "M", help: "the same for the length runs", parse: float(), defaultText: "no limit" },
  json: { metavar: "FILE", help: "write the results as JSON (FILE.partial holds the totals so far)" },
} as const satisfies FlagTable;

if (import.meta.url === `file://${process.argv[1]}`) {
  const values = benchFlags("chat", FLAGS, benchUsage("chat", "Chat speed on SmolLM2-135M-Instruct: the guard against our plain sampling and LlamaChatSession.", FLAGS));
  const json = values.json;
  const result = await chatSection({
    requests: values.requests,
    lengthRequests: values["length-requests"],
    maxTokens: values["max-tokens"],
    httpRounds: values["http-rounds"],
    minutes: values.minutes,
    lengthMinutes: values["length-minutes"],
    onProgress(line, totals) {
      process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      if (json) writeFileSync(`${json}.partial`, JSON.stringify(totals) + "\n");
    },
  });
  if (json) writeFileSync(json, JSON.stringify(result, null, 1) + "\n");
}
