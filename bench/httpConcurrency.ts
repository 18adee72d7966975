// Requests sharing the batch through the HTTP server: R requests sent at once to `serve`'s
// /v1/completions against the same R one after another, beside the same R through the library
// (guard.generate) on the server's own guard, so both paths run on one engine, one context and one
// cache type and their ratios compare directly. The client is a separate process
// (bench/httpClient.mjs, plain node:http on keep-alive connections), as a user's clients are.
// Each round runs library and HTTP (in a row, then at once), the two in alternating order, and
// records how many CPU cores other processes used meanwhile (Linux /proc), so a round a neighbour
// slowed can be told apart.
//
//   npx tsx bench/httpConcurrency.ts [--model PATH] [--threads N] [--gpu BACKEND] [--requests R]
//                                    [--tokens T] [--rounds N] [--context-size C] [--stream] [--out FILE]
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { GpuOption } from "../src/engine/engine.js";
import { slotSequences } from "../src/engine/slots.js";
import { defaultModelPath } from "../src/paths.js";
import { GuardServer } from "../src/server/guardServer.js";
import type { SharingSectionOptions } from "./concurrency.js";
import { int, type FlagTable } from "../src/cli/flagTable.js";
import { GPU_FLAG, OUT_FLAG, benchFlags, benchUsage, countFlag, modelPathFlag, threadsFlag } from "./flags.js";
import { runWhenMain, type SectionModel } from "./measure.js";

export interface HttpConcurrencyConfig {
  model: string;
  threads?: number;
  gpu: GpuOption;
  requests: number;
  tokens: number;
  rounds: number;
  /** KV cells per request; undefined: the server's default. */
  contextSize?: number;
  /** Streamed responses (SSE) instead of whole ones. */
  stream: boolean;
}

/** One way of sending the R requests (library or HTTP), in a row and at once. */
export interface PathTiming {
  inARowMs: number;
  concurrentMs: number;
  /** inARowMs / concurrentMs: the throughput gain of sending them at once. */
  ratio: number;
  /** Decodes while the requests ran at once, and how many of them carried every request's rows. */
  concurrentDecodes: number;
  sharedByAll: number;
  /** Rows per decode at once. */
  rowsPerDecode: number;
}

export interface HttpConcurrencyResult {
  config: HttpConcurrencyConfig;
  /** KV cells each request had (the server's per-request context). */
  contextPerRequest: number;
  rounds: Array<{
    first: "library" | "http";
    library: PathTiming;
    http: PathTiming;
    /** CPU cores other processes kept busy on average during the round (null off Linux). */
    otherCores: number | null;
    loadavg1min: number;
  }>;
  median: { library: number; http: number };
  /** median HTTP ratio / median library ratio. */
  httpOverLibrary: number;
  /** Every HTTP answer in a row equal to the library's answer to the same request (the same search ran). */
  httpAnswersAsLibrary: boolean;
  /** Answers at once equal to answers in a row (false on a random-weight model: see docs/performance.md). */
  concurrentAsInARow: boolean;
}

const PROMPTS = ["Once upon a time", "The little dog ran to the park", "Lily had a red ball", "Tom and Sue went to the beach", "One day a bird", "The sun was hot", "Ben found a box", "Mia liked to sing"];

/** Busy jiffies of the whole machine, and of the given processes (Linux only). */
function cpuJiffies(pids: number[]): { total: number; ours: number } | null {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    const total = user + nice + system + irq + softirq + (steal ?? 0);
    let ours = 0;
    for (const pid of pids) {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ours += Number(after[11]) + Number(after[12]); // utime, stime (fields 14 and 15)
    }
    return { total, ours };
  } catch {
    return null;
  }
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

interface ClientAnswer {
  status: number;
  text: string;
  usage?: unknown;
  error?: string;
}

/** The client process: one command line in, one result line out (bench/chat.ts uses it too). */
export class HttpClient {
  private readonly child: ChildProcess;
  private readonly replies: AsyncIterator<string>;
  private id = 0;

  constructor() {
    this.child = spawn(process.execPath, [fileURLToPath(new URL("./httpClient.mjs", import.meta.url))], { stdio: ["pipe", "pipe", "inherit"] });
    this.replies = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }

  get pid(): number {
    return this.child.pid!;
  }

  async send(url: string, mode: "together" | "in-a-row", bodies: object[]): Promise<{ ms: number; answers: ClientAnswer[] }> {
    this.child.stdin!.write(`${JSON.stringify({ id: ++this.id, url, mode, bodies })}\n`);
    const next = await this.replies.next();
    if (next.done) throw new Error("the HTTP client process ended");
    const reply = JSON.parse(next.value) as { ms: number; answers: ClientAnswer[]; error?: string };
    if (reply.error !== undefined) throw new Error(`HTTP client: ${reply.error}`);
    const bad = reply.answers.find((a) => a.status !== 200);
    if (bad) throw new Error(`HTTP ${bad.status}: ${bad.error ?? ""}`);
    return reply;
  }

  close(): void {
    this.child.stdin!.end();
  }
}

export async function measureHttpConcurrency(cfg: HttpConcurrencyConfig, progress: (line: string) => void = () => {}): Promise<HttpConcurrencyResult> {
  const server = await GuardServer.create({ model: cfg.model, threads: cfg.threads, gpu: cfg.gpu, parallel: cfg.requests, contextSize: cfg.contextSize, port: 0, maxQueue: cfg.requests });
  const client = new HttpClient();
  try {
    const url = `${await server.listen()}/v1/completions`;
    const guard = server.guard;
    const perSlot = slotSequences(cfg.requests);
    // Every decode of the engine, with how many slots' rows it carried.
    const decodes: Array<{ rows: number; slots: number }> = [];
    const engine = guard.engine as unknown as { decode: (tokens: Int32Array, positions: Int32Array, seqs: Int32Array, want: Uint8Array) => void };
    const decode = engine.decode.bind(guard.engine);
    engine.decode = (tokens, positions, seqs, want) => {
      decode(tokens, positions, seqs, want);
      const slots = new Set<number>();
      for (const s of seqs) slots.add(Math.floor(s / perSlot));
      decodes.push({ rows: tokens.length, slots: slots.size });
    };
    const indices = Array.from({ length: cfg.requests }, (_, i) => i);
    const prompt = (i: number) => PROMPTS[i % PROMPTS.length]!;
    const bodies = indices.map((i) => ({ model: "bench", prompt: prompt(i), max_tokens: cfg.tokens, seed: 100 + i, ignore_eos: true, stream: cfg.stream }));
    const ask = (i: number) => guard.generate(prompt(i), { seed: 100 + i, maxTokens: cfg.tokens, ignoreEos: true });

    const run = async (path: "library" | "http", mode: "together" | "in-a-row"): Promise<{ ms: number; texts: string[]; decodes: typeof decodes }> => {
      decodes.length = 0;
      if (path === "http") {
        const { ms, answers } = await client.send(url, mode, bodies);
        return { ms, texts: answers.map((a) => a.text), decodes: decodes.slice() };
      }
      const t0 = performance.now();
      const results = mode === "together" ? await Promise.all(indices.map(ask)) : await (async () => {
        const out = [];
        for (const i of indices) out.push(await ask(i));
        return out;
      })();
      return { ms: performance.now() - t0, texts: results.map((r) => r.text), decodes: decodes.slice() };
    };

    // Warm-up: the first decodes allocate, the client's connections open.
    await run("library", "in-a-row");
    await run("http", "together");

    const rounds: HttpConcurrencyResult["rounds"] = [];
    let httpAnswersAsLibrary = true;
    let concurrentAsInARow = true;
    for (let round = 0; round < cfg.rounds; round++) {
      const first = round % 2 === 0 ? "library" : "http";
      const before = cpuJiffies([process.pid, client.pid]);
      const started = performance.now();
      const timing: Partial<Record<"library" | "http", PathTiming>> = {};
      const texts: Partial<Record<"library" | "http", { row: string[]; together: string[] }>> = {};
      for (const path of first === "library" ? (["library", "http"] as const) : (["http", "library"] as const)) {
        const row = await run(path, "in-a-row");
        const together = await run(path, "together");
        timing[path] = {
          inARowMs: row.ms,
          concurrentMs: together.ms,
          ratio: row.ms / together.ms,
          concurrentDecodes: together.decodes.length,
          sharedByAll: together.decodes.filter((d) => d.slots === cfg.requests).length,
          rowsPerDecode: together.decodes.reduce((n, d) => n + d.rows, 0) / Math.max(1, together.decodes.length),
        };
        texts[path] = { row: row.texts, together: together.texts };
      }
      const after = cpuJiffies([process.pid, client.pid]);
      const seconds = (performance.now() - started) / 1000;
      // USER_HZ is 100 on Linux.
      const otherCores = before && after ? Math.max(0, (after.total - before.total - (after.ours - before.ours)) / 100 / seconds) : null;
      httpAnswersAsLibrary &&= texts.http!.row.every((t, i) => t === texts.library!.row[i]);
      concurrentAsInARow &&= (["library", "http"] as const).every((p) => texts[p]!.together.every((t, i) => t === texts.library!.row[i]));
      const lib = timing.library!;
      const http = timing.http!;
      rounds.push({ first, library: lib, http, otherCores, loadavg1min: loadavg()[0] });
      progress(
        `round ${round + 1}/${cfg.rounds} (${first} first): library ${lib.inARowMs.toFixed(0)} / ${lib.concurrentMs.toFixed(0)} ms = ${lib.ratio.toFixed(2)}x, ` +
          `HTTP ${http.inARowMs.toFixed(0)} / ${http.concurrentMs.toFixed(0)} ms = ${http.ratio.toFixed(2)}x; decodes at once ${lib.concurrentDecodes} / ${http.concurrentDecodes}` +
          (otherCores === null ? "" : `; other processes ${otherCores.toFixed(2)} cores`),
      );
    }
    const med = { library: median(rounds.map((r) => r.library.ratio)), http: median(rounds.map((r) => r.http.ratio)) };
    return {
      config: cfg,
      contextPerRequest: guard.engine.info.contextSize / cfg.requests,
      rounds,
      median: med,
      httpOverLibrary: med.http / med.library,
      httpAnswersAsLibrary,
      concurrentAsInARow,
    };
  } finally {
    client.close();
    await server.close();
  }
}

const FLAGS = {
  model: modelPathFlag(),
  threads: threadsFlag(),
  gpu: GPU_FLAG,
  requests: countFlag("R", "requests at once (and the server's --parallel)", 4),
  tokens: countFlag("T", "answer tokens of each request", 32),
  rounds: countFlag("N", "rounds, library and HTTP in alternating order", 3),
  "context-size": { metavar: "C", help: "the guard's context size", parse: int(1), defaultText: "the guard's default" },
  stream: { help: "stream the HTTP answers" },
  out: OUT_FLAG,
} as const satisfies FlagTable;

async function main(): Promise<void> {
  const v = benchFlags("httpConcurrency", FLAGS, benchUsage("httpConcurrency", "R requests at once through serve's /v1/completions against the same R in a row, beside the library.", FLAGS));
  const result = await measureHttpConcurrency(
    {
      model: v.model ?? defaultModelPath(),
      threads: v.threads,
      gpu: v.gpu,
      requests: v.requests,
      tokens: v.tokens,
      rounds: v.rounds,
      contextSize: v["context-size"],
      stream: v.stream,
    },
    (line) => process.stderr.write(`${line}\n`),
  );
  if (v.out) writeFileSync(v.out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${summaryLine(result)}\n`);
}

function summaryLine(r: HttpConcurrencyResult): string {
  return (
    `${r.config.requests} requests of ${r.config.tokens} tokens at once vs in a row (median of ${r.rounds.length} rounds): ` +
    `HTTP ${r.median.http.toFixed(2)}x, library ${r.median.library.toFixed(2)}x (HTTP / library ${r.httpOverLibrary.toFixed(2)}); ` +
    `context ${r.contextPerRequest} cells per request; HTTP answers = library answers: ${r.httpAnswersAsLibrary}`
  );
}

runWhenMain(import.meta, "bench/httpConcurrency", main);

/** Section 7b of bench/run.ts: the HTTP server beside the library on each given model; prints a table. */
export async function httpConcurrencySection(
  models: SectionModel[],
  o: SharingSectionOptions,
): Promise<HttpConcurrencyResult[]> {
  const results: HttpConcurrencyResult[] = [];
  o.progress.begin("7b HTTP server sharing", models.length * o.rounds);
  for (const m of models) {
    results.push(
      await measureHttpConcurrency(
        { model: m.path, threads: m.threads, gpu: o.gpu, requests: o.requests, tokens: o.tokens, rounds: o.rounds, stream: false },
        (line) => o.progress.tick(`${m.label} ${line}`),
      ),
    );
  }
  o.print(
    `### 7b. Through the HTTP server: ${o.requests} requests to /v1/completions (${o.tokens} tokens, ignore_eos) from a client process, at once vs in a row, ` +
      `beside the same requests through the library on the server's guard, ${o.rounds} rounds (library and HTTP alternate which goes first)`,
  );
  o.print("| model | threads | HTTP at once / in a row (median) | library (median) | HTTP / library | HTTP rounds | library rounds | decodes at once, HTTP / library (all requests in it) | other processes (cores, per round) |");
  o.print("|---|---|---|---|---|---|---|---|---|");
  results.forEach((r, i) => {
    const last = r.rounds[r.rounds.length - 1]!;
    o.print(
      `| ${models[i]!.label} | ${r.config.threads ?? "default"} | **${r.median.http.toFixed(2)}x** | ${r.median.library.toFixed(2)}x | ${r.httpOverLibrary.toFixed(2)} | ` +
        `${r.rounds.map((x) => x.http.ratio.toFixed(2)).join(", ")} | ${r.rounds.map((x) => x.library.ratio.toFixed(2)).join(", ")} | ` +
        `${last.http.concurrentDecodes} (${last.http.sharedByAll}) / ${last.library.concurrentDecodes} (${last.library.sharedByAll}) | ` +
        `${r.rounds.map((x) => (x.otherCores === null ? "-" : x.otherCores.toFixed(2))).join(", ")} |`,
    );
  });
  o.print(`Context per request: ${results.map((r, i) => `${models[i]!.label} ${r.contextPerRequest} cells`).join(", ")} (the server's default). HTTP answers equal the library's: ${results.every((r) => r.httpAnswersAsLibrary) ? "yes" : "no"}.`);
  return results;
}
