// Our plain sampling against the generation a node-llama-cpp user already has (issue 18 item 6):
// node-llama-cpp's LlamaCompletion beside our `--method sample` (src/search/plain.ts) on the same
// model, threads, prompt, sampling settings and length, rounds alternating which goes first. Each
// run is profiled per token: ours into llama.cpp's decode, our sampler, detokenizing and the rest
// (our JS, the slot, the event loop); node-llama-cpp's into its decode and its sampler (each an
// async call that runs on a worker thread, timed from the call to its answer) and the rest.
//
//   npx tsx bench/plainBaseline.ts [--model PATH] [--threads N] [--tokens 48] [--rounds 5] [--out FILE]
//
// Variants:
//   node-llama-cpp   LlamaCompletion.generateCompletion on a context of its own (one sequence,
//                    node-llama-cpp's defaults: f16 KV cache, the model's flash-attention default)
//   ours             createGuard + generate({method: "sample"}), as `generate --method sample` runs
//                    it (one slot, the guard's f32 KV cache for models under 2 GiB, 64 sequences)
//   ours, f16 engine generatePlain on an Engine set up like node-llama-cpp's context (f16 KV
//                    cache, its context size, one sequence): what the guard's settings cost
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { LlamaCompletion, type LlamaContext, type LlamaModel } from "node-llama-cpp";
import { createGuard, type Guard } from "../src/createGuard.js";
import { Engine } from "../src/engine/engine.js";
import { generatePlain } from "../src/search/plain.js";
import { cachedShapeModel } from "./shapes/shapes.js";
import { float, int, type FlagTable } from "../src/cli/flagTable.js";
import { OUT_FLAG, benchFlags, benchUsage, countFlag, modelPathFlag } from "./flags.js";
import { fmt, fmtAuto, table, type SectionModel, type SectionOutput } from "./measure.js";

export interface PlainBaselineConfig {
  model: string;
  threads: number;
  tokens: number;
  rounds: number;
  prompt: string;
  seed: number;
  sampling: { temperature: number; topK: number; topP: number };
}

/** Milliseconds per generated token, split by where they went. */
export interface TokenProfile {
  msPerToken: number;
  decode: number;
  sample: number;
  detokenize: number;
  rest: number;
}

export interface PlainBaselineRun extends TokenProfile {
  variant: string;
  tokens: number;
  ms: number;
}

export interface PlainBaselineResult {
  config: PlainBaselineConfig;
  rounds: Array<{ order: string[]; runs: PlainBaselineRun[]; loadavg1min: number }>;
  /** Per variant: the median over rounds of each profile column. */
  median: Record<string, TokenProfile>;
  /** Per variant: median over rounds of (its ms/token / node-llama-cpp's ms/token in the same round). */
  vsNodeLlamaCpp: Record<string, number>;
  /** node-llama-cpp's context: its cells, and the threads its decodes were given (setThreads), as checked. */
  nodeLlamaCppContext: { contextSize: number; threads: number[] };
}

export const NODE_LLAMA_CPP = "node-llama-cpp";
export const OURS = "ours";
export const OURS_F16 = "ours, f16 engine";

/** Accumulated time of calls to obj[key] (sync or async: until the promise settles), until restore(). */
function timeCalls(obj: Record<string, unknown>, key: string, into: { ms: number }): () => void {
  const original = obj[key] as (...a: unknown[]) => unknown;
  const hadOwn = Object.prototype.hasOwnProperty.call(obj, key);
  // Native objects' methods are read-only properties of their prototype: define an own one over it.
  const set = (value: unknown) => Object.defineProperty(obj, key, { value, configurable: true, writable: true });
  set(function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    const result = original.apply(this, args);
    if (result instanceof Promise) return result.finally(() => (into.ms += performance.now() - t0));
    into.ms += performance.now() - t0;
    return result;
  });
  return () => {
    if (hadOwn) set(original);
    else delete obj[key];
  };
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

interface Variant {
  name: string;
  run(): Promise<PlainBaselineRun>;
  dispose(): Promise<void>;
}

function profiled(variant: string, tokens: number, ms: number, t: { decode: number; sample: number; detokenize: number }): PlainBaselineRun {
  const per = (x: number) => x / Math.max(1, tokens);
  return { variant, tokens, ms, msPerToken: per(ms), decode: per(t.decode), sample: per(t.sample), detokenize: per(t.detokenize), rest: per(ms - t.decode - t.sample - t.detokenize) };
}

/** The native context inside an Engine (private), whose decode and sample calls are timed. */
function nativeOf(engine: Engine): Record<string, unknown> {
  return (engine as unknown as { ctx: Record<string, unknown> }).ctx;
}

async function oursVariant(cfg: PlainBaselineConfig): Promise<Variant & { guard: Guard }> {
  const guard = await createGuard({ model: cfg.model, threads: cfg.threads });
  const native = nativeOf(guard.engine);
  const model = guard.engine.model as unknown as Record<string, unknown>;
  return {
    name: OURS,
    guard,
    async run() {
      const t = { decode: { ms: 0 }, sample: { ms: 0 }, detokenize: { ms: 0 } };
      const restore = [timeCalls(native, "decode", t.decode), timeCalls(native, "sample", t.sample), timeCalls(model, "detokenize", t.detokenize)];
      try {
        const t0 = performance.now();
        const r = await guard.generate(cfg.prompt, { method: "sample", seed: cfg.seed, maxTokens: cfg.tokens, ...cfg.sampling });
        return profiled(OURS, r.tokens, performance.now() - t0, { decode: t.decode.ms, sample: t.sample.ms, detokenize: t.detokenize.ms });
      } finally {
        for (const r of restore) r();
      }
    },
    dispose: () => guard.dispose(),
  };
}

async function oursF16Variant(cfg: PlainBaselineConfig, contextSize: number): Promise<Variant> {
  const engine = await Engine.load({ modelPath: cfg.model, threads: cfg.threads, contextSize, maxSequences: 1, kvCacheType: "f16" });
  const native = nativeOf(engine);
  const model = engine.model as unknown as Record<string, unknown>;
  const prompt = engine.completionPrompt(cfg.prompt);
  return {
    name: OURS_F16,
    async run() {
      const t = { decode: { ms: 0 }, sample: { ms: 0 }, detokenize: { ms: 0 } };
      const restore = [timeCalls(native, "decode", t.decode), timeCalls(native, "sample", t.sample), timeCalls(model, "detokenize", t.detokenize)];
      try {
        const t0 = performance.now();
        const r = await generatePlain({ engine, promptTokens: prompt, method: "sample", options: { seed: cfg.seed, maxTokens: cfg.tokens, ...cfg.sampling } });
        return profiled(OURS_F16, r.tokens, performance.now() - t0, { decode: t.decode.ms, sample: t.sample.ms, detokenize: t.detokenize.ms });
      } finally {
        for (const r of restore) r();
      }
    },
    dispose: () => engine.dispose(),
  };
}

/** node-llama-cpp's own completion, on the model the guard loaded (the same weights in memory). */
async function nodeLlamaCppVariant(cfg: PlainBaselineConfig, model: LlamaModel): Promise<Variant & { context: LlamaContext; threads: Set<number> }> {
  const context = await model.createContext({ threads: cfg.threads, sequences: 1 });
  const sequence = context.getSequence();
  const completion = new LlamaCompletion({ contextSequence: sequence });
  const native = (context as unknown as { _ctx: Record<string, unknown> })._ctx;
  // The threads node-llama-cpp gives each decode (its thread splitter may give fewer than asked).
  const threads = new Set<number>([context.currentThreads]);
  const setThreads = native.setThreads as (n: number) => unknown;
  Object.defineProperty(native, "setThreads", { configurable: true, writable: true, value: (n: number) => (threads.add(n), setThreads.call(native, n)) });
  return {
    name: NODE_LLAMA_CPP,
    context,
    threads,
    async run() {
      await sequence.clearHistory(); // the prompt is evaluated again, as ours is
      const t = { decode: { ms: 0 }, sample: { ms: 0 } };
      const restore = [timeCalls(native, "decodeBatch", t.decode), timeCalls(native, "sampleToken", t.sample)];
      try {
        let tokens = 0;
        const t0 = performance.now();
        await completion.generateCompletion(cfg.prompt, { maxTokens: cfg.tokens, seed: cfg.seed, ...cfg.sampling, onToken: (chunk) => (tokens += chunk.length) });
        return profiled(NODE_LLAMA_CPP, tokens, performance.now() - t0, { decode: t.decode.ms, sample: t.sample.ms, detokenize: 0 });
      } finally {
        for (const r of restore) r();
      }
    },
    async dispose() {
      completion.dispose();
      await context.dispose();
    },
  };
}

export async function measurePlainBaseline(cfg: PlainBaselineConfig, progress: (line: string) => void = () => {}): Promise<PlainBaselineResult> {
  const ours = await oursVariant(cfg);
  const variants: Variant[] = [ours];
  try {
    const nlc = await nodeLlamaCppVariant(cfg, ours.guard.engine.model);
    const nodeLlamaCppContext = { contextSize: nlc.context.contextSize, threads: [] as number[] };
    variants.unshift(nlc);
    variants.push(await oursF16Variant(cfg, nlc.context.contextSize));
    for (const v of variants) await v.run(); // warm-up: first allocations, the sampler chain
    const rounds: PlainBaselineResult["rounds"] = [];
    for (let round = 0; round < cfg.rounds; round++) {
      // Rotate which variant goes first, so drift in the machine's speed touches all of them.
      const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
      const runs: PlainBaselineRun[] = [];
      for (const v of order) runs.push(await v.run());
      rounds.push({ order: order.map((v) => v.name), runs, loadavg1min: loadavg()[0] });
      progress(`round ${round + 1}/${cfg.rounds}: ${runs.map((r) => `${r.variant} ${r.msPerToken.toFixed(1)} ms/token (${r.tokens})`).join(", ")}; load ${loadavg()[0].toFixed(2)}`);
    }
    const median_: PlainBaselineResult["median"] = {};
    const vs: Record<string, number> = {};
    for (const v of variants) {
      const mine = rounds.map((r) => r.runs.find((x) => x.variant === v.name)!);
      median_[v.name] = {
        msPerToken: median(mine.map((r) => r.msPerToken)),
        decode: median(mine.map((r) => r.decode)),
        sample: median(mine.map((r) => r.sample)),
        detokenize: median(mine.map((r) => r.detokenize)),
        rest: median(mine.map((r) => r.rest)),
      };
      vs[v.name] = median(rounds.map((r) => r.runs.find((x) => x.variant === v.name)!.msPerToken / r.runs.find((x) => x.variant === NODE_LLAMA_CPP)!.msPerToken));
    }
    nodeLlamaCppContext.threads = [...nlc.threads].sort();
    return { config: cfg, rounds, median: median_, vsNodeLlamaCpp: vs, nodeLlamaCppContext };
  } finally {
    for (const v of variants.reverse()) await v.dispose();
  }
}

export function printPlainBaseline(r: PlainBaselineResult, print: (line?: string) => void, heading: string): void {
  const s = r.config.sampling;
  print(heading);
  print(
    table(
      ["variant", "ms/token (median)", `vs ${NODE_LLAMA_CPP} (median of rounds)`, "decode", "sampling", "detokenize", "rest (JS, event loop)", "ms/token per round"],
      Object.entries(r.median).map(([name, m]) => [
        name,
        fmt(m.msPerToken, 2),
        `${fmtAuto(r.vsNodeLlamaCpp[name]!)}x`,
        fmt(m.decode, 2),
        fmt(m.sample, 2),
        fmt(m.detokenize, 3),
        fmt(m.rest, 2),
        r.rounds.map((x) => fmt(x.runs.find((y) => y.variant === name)!.msPerToken, 1)).join(", "),
      ]),
    ),
  );
  print(
    `${r.config.tokens} tokens, threads ${r.config.threads}, prompt ${JSON.stringify(r.config.prompt)}, seed ${r.config.seed}, temperature ${s.temperature}, top-k ${s.topK}, top-p ${s.topP}; ` +
      `columns in ms per token (prompt prefill included); node-llama-cpp's decode and sampling are async calls to its worker thread, timed until they answer.`,
  );
  print(`node-llama-cpp's context: ${r.nodeLlamaCppContext.contextSize} cells, decodes on ${r.nodeLlamaCppContext.threads.join("/")} threads; ours: ${OURS_F16} has the same cells and one sequence.`);
}

/** Section 9 of bench/run.ts: our plain sampling against node-llama-cpp's LlamaCompletion on the shape. */
export async function plainBaselineSection(
  model: SectionModel & { threads: number },
  o: SectionOutput & { tokens: number; rounds: number },
): Promise<PlainBaselineResult[]> {
  const settings = [
    { temperature: 1, topK: 40, topP: 0.95 }, // node-llama-cpp's defaults
    { temperature: 1, topK: 0, topP: 1 }, // ours: the whole distribution
  ];
  o.progress.begin("9 plain vs node-llama-cpp", settings.length * o.rounds);
  const results: PlainBaselineResult[] = [];
  for (const sampling of settings) {
    const r = await measurePlainBaseline({ model: model.path, threads: model.threads, tokens: o.tokens, rounds: o.rounds, prompt: "Once upon a time", seed: 1, sampling }, (line) =>
      o.progress.tick(`${model.label} top-k ${sampling.topK}: ${line}`),
    );
    results.push(r);
    printPlainBaseline(r, o.print, `## 9. Plain sampling: ours against node-llama-cpp's LlamaCompletion, ${model.label}, top-k ${sampling.topK}, top-p ${sampling.topP}, ${o.rounds} rotating rounds`);
  }
  return results;
}

const FLAGS = {
  model: modelPathFlag("the tinyllama-1.1b shape"),
  threads: countFlag("N", "llama.cpp threads", 2),
  tokens: countFlag("T", "answer tokens", 48),
  rounds: countFlag("N", "rotating rounds", 5),
  "top-k": { metavar: "K", help: "sampling top-k", parse: int(0), default: 40 },
  "top-p": { metavar: "P", help: "sampling top-p", parse: float(), default: 0.95 },
  temperature: { metavar: "X", help: "sampling temperature", parse: float(), default: 1 },
  seed: { metavar: "S", help: "sampling seed", parse: int(0), default: 1 },
  out: OUT_FLAG,
} as const satisfies FlagTable;

async function main(): Promise<void> {
  const v = benchFlags("plainBaseline", FLAGS, benchUsage("plainBaseline", "Our plain sampling against node-llama-cpp's LlamaCompletion on one model.", FLAGS));
  const model = v.model ?? cachedShapeModel("tinyllama-1.1b");
  if (!model) throw new Error("no --model and the tinyllama-1.1b shape is not built (npm run shapes:build -- tinyllama-1.1b)");
  const result = await measurePlainBaseline(
    {
      model,
      threads: v.threads,
      tokens: v.tokens,
      rounds: v.rounds,
      prompt: "Once upon a time",
      seed: v.seed,
      sampling: { temperature: v.temperature, topK: v["top-k"], topP: v["top-p"] },
    },
    (line) => process.stderr.write(`${line}\n`),
  );
  if (v.out) writeFileSync(v.out, `${JSON.stringify(result, null, 2)}\n`);
  printPlainBaseline(result, (line = "") => process.stdout.write(`${line}\n`), `plain sampling vs node-llama-cpp (${cpus().length} CPUs, load ${loadavg()[0].toFixed(2)})`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench/plainBaseline: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
