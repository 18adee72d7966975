// Benchmark (not a test): throughput of the Redis queue with 1, 2, ... worker processes on this
// machine, against one `batch` process on the same rows (docs/scale-out.md).
//
//   npx tsx bench/queue-throughput.ts [--rows 80] [--workers 1,2] [--max-tokens 64] [--threads 1] [--model PATH] [--out FILE]
//
// Starts its own redis-server (Debian's; temp folder, no persistence) on a free port. For each
// worker count it starts the workers on an empty queue, waits until all are connected (so model
// loading is not timed), pushes the rows (in this process), and times from the start of the push
// until the last answer is stored.
// The batch baseline is timed by batch itself (its summary line; model loading excluded too).
// Every worker and batch use --threads (default 1). Answers are checked to be identical across runs.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { PACKAGE_ROOT, SHARED_DIR } from "../src/paths.js";
import { pushRows } from "../src/queue/push.js";
import { closeRedis, connectRedis } from "../src/queue/redis.js";
import { QueueStore, openQueue } from "../src/queue/store.js";
import { startRedis } from "../test/helpers/redis.js";
import { text, type FlagTable } from "../src/cli/flagTable.js";
import { UserError } from "../src/errors.js";
import { benchFlags, benchUsage, countFlag } from "./flags.js";

const FLAGS = {
  rows: countFlag("N", "rows pushed (and answered by batch)", 80),
  workers: { metavar: "LIST", help: "worker counts to time, comma-separated", parse: workersFlag, default: [1, 2], defaultText: "1,2" },
  "max-tokens": countFlag("T", "answer length cap", 64),
  threads: countFlag("N", "llama.cpp threads of every worker and of batch", 1),
  model: { metavar: "PATH", help: "GGUF to answer with", default: join(SHARED_DIR, "models", "stories260K.gguf"), defaultText: "../shared/models/stories260K.gguf" },
  out: { metavar: "FILE", help: "where to write the JSON results", defaultText: "bench-results/queue-throughput-<time>.json" },
} as const satisfies FlagTable;

function workersFlag(values: Record<string, unknown>, name: string): number[] | undefined {
  const raw = text(values, name);
  if (raw === undefined) return undefined;
  const list = raw.split(",").map((t) => Number(t.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 1)) throw new UserError(`--${name} takes whole numbers >= 1 separated by commas, got "${raw}"`);
  return list;
}

const values = benchFlags("queue-throughput", FLAGS, benchUsage("queue-throughput", "Throughput of the Redis queue with 1, 2, ... worker processes against one batch process.", FLAGS));
const rows = values.rows;
const workerCounts = values.workers;
const BIN = join(PACKAGE_ROOT, "bin", "inference-guard.js");
const SEARCH = ["--max-tokens", String(values["max-tokens"]), "--seed", "1"];
const RUNTIME = ["--model", values.model, "--threads", String(values.threads)];
const OPENINGS = ["Once upon a time", "The little dog", "Lily and Ben", "One sunny day", "There was a bird", "Tom had a red ball", "The sun was hot", "Sue found a box"];

const dir = mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "inference-guard-queue-bench-"));
const input = join(dir, "rows.jsonl");
writeFileSync(input, Array.from({ length: rows }, (_, i) => JSON.stringify({ id: `r${i}`, prompt: OPENINGS[i % OPENINGS.length] })).join("\n") + "\n");

/** Every process this benchmark started: killed if it fails midway, so no worker is left running. */
const children = new Set<ChildProcess>();

function run(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  return { child, done: new Promise((resolve) => child.on("exit", (code) => resolve({ code, stderr }))) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const withoutSeconds = (line: string) => line.replace(/"seconds":[0-9.e-]+,/, "");
/** Lines in id order, without timings: batch appends in the order answers finish (--parallel). */
const comparable = (lines: string[]) => lines.map(withoutSeconds).sort();

const loadBefore = loadavg();
const redis = await startRedis();
const client = await connectRedis({ url: redis.url, waitForServer: false });
const results: Array<{ label: string; workers: number; seconds: number; rowsPerSecond: number; tokensPerSecond: number }> = [];
let reference: string[] | undefined;
try {
  // Baseline: one batch process.
  const batchOut = join(dir, "batch.jsonl");
  const batch = await run(["batch", "--in", input, "--out", batchOut, "--quiet", ...SEARCH, ...RUNTIME]).done;
  const batchSeconds = Number(/; ([0-9.]+) s\n/.exec(batch.stderr)?.[1]);
  if (batch.code !== 0 || !Number.isFinite(batchSeconds)) throw new Error(`batch failed: ${batch.stderr}`);
  const batchLines = readFileSync(batchOut, "utf8").trim().split("\n");
  const batchTokens = batchLines.map((l) => JSON.parse(l).tokens as number).reduce((a, b) => a + b, 0);
  results.push({ label: "batch (1 process)", workers: 0, seconds: batchSeconds, rowsPerSecond: rows / batchSeconds, tokensPerSecond: batchTokens / batchSeconds });
  reference = comparable(batchLines);

  for (const count of workerCounts) {
    const queue = `bench-${count}-${Date.now()}`;
    const bull = openQueue(client, queue);
    const store = new QueueStore(client, queue);
    const workers = Array.from({ length: count }, (_, i) => run(["worker", "--redis", redis.url, "--queue", queue, "--name", `w${i + 1}`, "--quiet", ...RUNTIME]));
    while ((await bull.getWorkers()).length < count) await sleep(50);
    // Pushed in this process (as `queue push --max-tokens T --seed 1` does), so no process start is timed.
    const started = performance.now();
    await pushRows({ queue: bull, store, inputPath: input, context: { defaults: { maxTokens: Number(values["max-tokens"]) }, method: "guard", costNames: ["default"] }, seed: 1 });
    while ((await store.resultCount()) < rows) await sleep(20);
    const seconds = (performance.now() - started) / 1000;
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.done));
    const out = join(dir, `queue-${count}.jsonl`);
    const collect = await run(["queue", "collect", "--redis", redis.url, "--queue", queue, "--out", out]).done;
    if (collect.code !== 0) throw new Error(`collect failed: ${collect.stderr}`);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    if (JSON.stringify(comparable(lines)) !== JSON.stringify(reference)) throw new Error(`answers with ${count} workers differ from batch's`);
    const tokens = lines.map((l) => JSON.parse(l).tokens as number).reduce((a, b) => a + b, 0);
    results.push({ label: `queue, ${count} worker${count > 1 ? "s" : ""}`, workers: count, seconds, rowsPerSecond: rows / seconds, tokensPerSecond: tokens / seconds });
    await bull.close();
  }
} finally {
  for (const child of children) child.kill("SIGKILL");
  await closeRedis(client);
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}

const loadAfter = loadavg();
const one = results.find((r) => r.workers === 1);
console.log(`rows ${rows}, ${SEARCH.join(" ")}, ${RUNTIME.join(" ")}; default search settings otherwise; ${cpus().length} cores`);
console.log(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(" ")}, after ${loadAfter.map((x) => x.toFixed(2)).join(" ")}`);
console.log("| run | seconds | rows/s | answer tokens/s | vs 1 worker |");
console.log("|---|---:|---:|---:|---:|");
for (const r of results) {
  const ratio = one ? (r.rowsPerSecond / one.rowsPerSecond).toFixed(2) + "x" : "";
  console.log(`| ${r.label} | ${r.seconds.toFixed(2)} | ${r.rowsPerSecond.toFixed(2)} | ${r.tokensPerSecond.toFixed(0)} | ${ratio} |`);
}
console.log("answers: identical across batch and every worker count (seconds field aside)");
const outPath = resolve(values.out ?? join(PACKAGE_ROOT, "bench-results", `queue-throughput-${Date.now()}.json`));
mkdirSync(resolve(outPath, ".."), { recursive: true });
writeFileSync(outPath, JSON.stringify({ rows, search: SEARCH, runtime: RUNTIME, cores: cpus().length, loadBefore, loadAfter, results }, null, 2) + "\n");
console.log(`raw numbers: ${outPath}`);
