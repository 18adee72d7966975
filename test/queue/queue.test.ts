// The Redis queue end to end, on a real redis-server (test/helpers/redis.ts) and worker processes:
// idempotent push, three workers with one SIGKILLed mid-row (every id exactly once, the same answers
// as `batch`), a poison row, SIGTERM finishing the current row, Redis down, and Redis killed and
// restarted with AOF while a worker runs (no finished answer lost).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { closeRedis, connectRedis } from "../../src/queue/redis.js";
import { QueueStore, openQueue, type WorkerRecord } from "../../src/queue/store.js";
import { jobIdOf } from "../../src/queue/rows.js";
import { idKey } from "../../src/batch/input.js";
import { cli } from "../helpers/cli.js";
import { STORIES_MODEL } from "../helpers/models.js";
import { freePort, startRedis, type RedisServer } from "../helpers/redis.js";

const dir = mkdtempSync(join(tmpdir(), "inference-guard-queue-"));
const BIN = join(PACKAGE_ROOT, "bin", "inference-guard.js");
/** Short lock and stalled checks so a killed worker's row comes back in seconds (production: 30 s each). */
const QUICK = ["--lock-duration", "3000", "--stalled-interval", "500", "--max-stalled", "3"];
const STARTS = ["Once upon a time", "The little dog", "Lily and Ben", "One sunny day", "There was a bird", "Tom had a red ball"];
/** Rows slow enough (~0.1-0.2 s each on an idle 2-core machine) that a kill lands mid-row. */
const SLOW = ["--max-tokens", "64", "--beams", "4", "--samples", "16", "--width", "4"];
const FAST = ["--max-tokens", "16", "--beams", "2", "--samples", "4", "--width", "4"];

let redis: RedisServer;
let client: Redis;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  redis = await startRedis();
  client = await connectRedis({ url: redis.url, waitForServer: false });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await closeRedis(client);
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

function writeInput(name: string, rows: object[], extraLines: string[] = []): string {
  const path = join(dir, name);
  writeFileSync(path, [...rows.map((r) => JSON.stringify(r)), ...extraLines].join("\n") + "\n");
  return path;
}

function storyRows(prefix: string, n: number): Array<{ id: string; prompt: string }> {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, prompt: STARTS[i % STARTS.length]! }));
}

function readLines(path: string): any[] {
  const text = readFileSync(path, "utf8");
  expect(text === "" || text.endsWith("\n")).toBe(true);
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

const withoutSeconds = (lines: any[]): any[] => lines.map(({ seconds: _s, ...rest }) => rest);

interface WorkerProcess {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startWorker(url: string, queue: string, name: string, extra: string[] = []): WorkerProcess {
  const child = spawn(process.execPath, [BIN, "worker", "--redis", url, "--queue", queue, "--name", name, "--model", STORIES_MODEL, "--threads", "1", ...QUICK, ...extra], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.add(child);
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function workerRecord(store: QueueStore, name: string): Promise<WorkerRecord | undefined> {
  return (await store.loadWorkers()).find((w) => w.name === name);
}

async function status(queue: string, url = redis.url): Promise<any> {
  const r = await cli("queue", "status", "--redis", url, "--queue", queue, "--json");
  expect(r.code).toBe(0);
  return JSON.parse(r.out);
}

test("push checks every line as batch does, and pushing again adds nothing twice", async () => {
  const input = writeInput("push.jsonl", [...storyRows("a", 4), { id: 7, messages: [{ role: "user", content: "Tell me a story" }], guard: { budget: 0.5 } }], [
    "{ not json",
    JSON.stringify({ id: "a1", prompt: "a duplicate id" }),
    JSON.stringify({ id: "neg", prompt: "x", guard: { budget: -1 } }),
  ]);
  const args = ["queue", "push", "--redis", redis.url, "--queue", "pushq", "--in", input, "--seed", "5", ...FAST];
  const first = await cli(...args);
  expect(first.code).toBe(1); // some lines skipped
  expect(first.err).toMatch(/push\.jsonl line 6: not valid JSON/);
  expect(first.err).toMatch(/push\.jsonl line 7: duplicate id "a1" \(first on line 2\)/);
  expect(first.err).toMatch(/push\.jsonl line 8: guard\.budget: budget must be > 0 \(skipped\)/);
  expect(first.err).toMatch(/5 rows added, 0 already queued, 3 lines skipped; base seed 5/);
  const again = await cli(...args);
  expect(again.err).toMatch(/0 rows added, 5 already queued, 3 lines skipped/);
  const s = await status("pushq");
  expect(s).toMatchObject({ rows: 5, answered: 0, counts: { waiting: 5, active: 0, completed: 0, failed: 0 } });

  // The queue keeps its first settings and the rows their lines: a push that would answer
  // differently, or put rows elsewhere, is refused whole, in one line.
  const otherSeed = await cli(...args.slice(0, -FAST.length - 2), "--seed", "6", ...FAST);
  expect(otherSeed.code).toBe(2);
  expect(otherSeed.err).toMatch(/was first pushed with --seed 5/);
  const otherFlags = await cli(...args.slice(0, -FAST.length), "--max-tokens", "17", "--beams", "2", "--samples", "4", "--width", "4");
  expect(otherFlags.code).toBe(2);
  expect(otherFlags.err).toMatch(/was first pushed with other settings/);
  const moved = writeInput("moved.jsonl", [{ id: "new", prompt: "Once" }, ...storyRows("a", 4)]);
  const movedPush = await cli("queue", "push", "--redis", redis.url, "--queue", "pushq", "--in", moved, "--seed", "5", ...FAST);
  expect(movedPush.code).toBe(2);
  expect(movedPush.err.trim().split("\n")).toHaveLength(1);
  expect(movedPush.err).toMatch(/line 1 \(id "new"\): line 1 held id "a0" when queue "pushq" was first pushed/);
  // An edited row is not queued a second time; a row appended at the end is.
  const edited = writeInput("edited.jsonl", [{ id: "a0", prompt: "Another prompt" }, ...storyRows("a", 4).slice(1), { id: 7, messages: [{ role: "user", content: "Tell me a story" }], guard: { budget: 0.5 } }, { id: "tail", prompt: "The end" }]);
  const editedPush = await cli("queue", "push", "--redis", redis.url, "--queue", "pushq", "--in", edited, "--seed", "5", ...FAST);
  expect(editedPush.code).toBe(1);
  expect(editedPush.err).toMatch(/line 1 \(id "a0"\): already queued with another prompt or settings \(skipped/);
  expect(editedPush.err).toMatch(/1 rows added, 4 already queued, 1 lines skipped/);
  expect((await status("pushq")).rows).toBe(6);
});

test("a push killed between recording a row and queueing its job: collect names the row, pushing again queues it", async () => {
  const input = writeInput("crash.jsonl", storyRows("c", 3));
  const push = () => cli("queue", "push", "--redis", redis.url, "--queue", "crashq", "--in", input, ...FAST);
  expect((await push()).code).toBe(0);
  const bull = openQueue(client, "crashq");
  try {
    await bull.remove(jobIdOf(idKey("c1"))); // the job is gone, its row is still recorded: what a kill mid-push leaves
    const out = join(dir, "crash-results.jsonl");
    const waiting = await cli("queue", "collect", "--redis", redis.url, "--queue", "crashq", "--out", out);
    expect(waiting.code).toBe(3);
    expect(waiting.err).toMatch(/next in order is row "c0" \(line 1\), waiting/);
    await bull.remove(jobIdOf(idKey("c0")));
    await new QueueStore(client, "crashq").saveResult(jobIdOf(idKey("c0")), JSON.stringify({ id: "c0", text: "x", cost: 0 }));
    const missing = await cli("queue", "collect", "--redis", redis.url, "--queue", "crashq", "--out", out);
    expect(missing.err).toMatch(/next in order is row "c1" \(line 2\), not queued \(push the file again\)/);
    const again = await push();
    expect(again.err).toMatch(/1 rows added, 2 already queued/); // c0 has its answer: not queued again
    expect(await bull.getJobState(jobIdOf(idKey("c1")))).toBe("waiting");
  } finally {
    await bull.close();
  }
});

test("three worker processes, one SIGKILLed mid-row: every id exactly once, in input order, the same answers as batch; a poison row fails with its reason", async () => {
  const queue = "killq";
  const poison = { id: "poison", prompt: "Once upon a time ".repeat(800) }; // longer than the model's context
  const rows = storyRows("k", 16);
  const input = writeInput("kill.jsonl", [...rows.slice(0, 10), poison, ...rows.slice(10)]);
  const store = new QueueStore(client, queue);

  // Workers first, so all three are waiting when the rows arrive.
  const workers = ["w1", "w2", "w3"].map((name) => startWorker(redis.url, queue, name));
  await until("three connected workers", async () => (await status(queue)).workers.filter((w: any) => w.connected).length === 3);
  const pushed = await cli("queue", "push", "--redis", redis.url, "--queue", queue, "--in", input, "--seed", "11", "--attempts", "2", "--retry-delay", "100", ...SLOW);
  expect(pushed.code).toBe(0);

  const victim = workers[0]!;
  const held = await until("w1 answering a row", async () => (await workerRecord(store, "w1"))?.current ?? undefined);
  victim.child.kill("SIGKILL");
  await victim.exited;
  // What w1 was answering when it died (it records each row before answering it; null only if it
  // died in the instant between two rows, when BullMQ had still handed it the next one).
  const lost = (await workerRecord(store, "w1"))!.current;
  const after = await status(queue);
  expect(after.workers.find((w: any) => w.name === "w1").connected).toBe(false);

  const out = join(dir, "kill-results.jsonl");
  const collected = await cli("queue", "collect", "--redis", redis.url, "--queue", queue, "--out", out, "--wait");
  expect(collected.code).toBe(1); // every row written, one failed
  expect(collected.err).toMatch(/collect \[#+\] 17\/17 rows/);
  const lines = readLines(out);
  expect(lines.map((l) => l.id)).toEqual([...rows.slice(0, 10), poison, ...rows.slice(10)].map((r) => r.id)); // each id once, input order
  const failed = lines[10];
  expect(failed).toEqual({ id: "poison", error: expect.stringMatching(/the prompt has \d+ tokens; the model's context is \d+/), attempts: 2 });

  // The row w1 held went back to the queue (its stalled counter says so) and another worker answered it.
  const bull = openQueue(client, queue);
  try {
    const recovered = (await bull.getCompleted(0, -1)).filter((job) => job.stalledCounter > 0);
    expect(recovered.length).toBeGreaterThanOrEqual(1);
    for (const job of recovered) expect(["w2", "w3"]).toContain(job.processedBy);
    if (lost !== null) expect(recovered.map((job) => job.id)).toContain(lost.jobId);
    // The row w1 was seen answering just before the kill: w1 finished it only if it did so in that
    // instant, and then its record had already moved on (the record is saved before BullMQ
    // completes a job); else it stalled and w2 or w3 answered it.
    const heldJob = (await bull.getJob(held.jobId))!;
    if (heldJob.processedBy === "w1") expect(lost?.jobId).not.toBe(held.jobId);
    else {
      expect(["w2", "w3"]).toContain(heldJob.processedBy);
      expect(heldJob.stalledCounter).toBeGreaterThan(0);
    }
  } finally {
    await bull.close();
  }

  // The same answers as batch gives for the same rows and seed (batch skips the poison row).
  const batchOut = join(dir, "kill-batch.jsonl");
  const batch = await cli("batch", "--in", input, "--out", batchOut, "--seed", "11", "--quiet", "--model", STORIES_MODEL, "--threads", "1", ...SLOW);
  expect(batch.err).toMatch(/line 11 \(id "poison"\): the prompt has/);
  // (batch appends in the order answers finish: compare in input order)
  const inputOrder = new Map(lines.map((l, i) => [l.id, i]));
  const batchLines = readLines(batchOut).sort((a, b) => inputOrder.get(a.id)! - inputOrder.get(b.id)!);
  expect(withoutSeconds(lines.filter((l) => l.error === undefined))).toEqual(withoutSeconds(batchLines));

  // Collect again: nothing to add; a torn last line (a collect killed mid-write) is cut and rewritten.
  const whole = readFileSync(out, "utf8");
  truncateSync(out, whole.length - 20);
  const resumed = await cli("queue", "collect", "--redis", redis.url, "--queue", queue, "--out", out);
  expect(resumed.err).toMatch(/cut off an unfinished last line/);
  expect(resumed.err).toMatch(/1 lines written, 16 already there/);
  expect(readFileSync(out, "utf8")).toBe(whole);

  for (const w of workers.slice(1)) w.child.kill("SIGTERM");
  for (const w of workers.slice(1)) expect(await w.exited).toBe(0);
  const final = await status(queue);
  expect(final.workers.filter((w: any) => w.connected)).toHaveLength(0);
  expect(final.workers.map((w: any) => w.done).reduce((a: number, b: number) => a + b, 0)).toBeGreaterThanOrEqual(16);
  expect(final.counts).toMatchObject({ waiting: 0, active: 0, completed: 16, failed: 1 });

  // queue retry puts the failed row back.
  const retried = await cli("queue", "retry", "--redis", redis.url, "--queue", queue);
  expect(retried.err).toMatch(/1 failed rows are back in queue "killq"/);
  expect((await status(queue)).counts).toMatchObject({ waiting: 1, failed: 0 });
});

test("SIGTERM: the worker finishes the row it is answering, stores it, and exits 0", async () => {
  const queue = "termq";
  const store = new QueueStore(client, queue);
  const ids = storyRows("t", 8);
  const input = writeInput("term.jsonl", ids);
  expect((await cli("queue", "push", "--redis", redis.url, "--queue", queue, "--in", input, "--seed", "2", ...SLOW)).code).toBe(0);
  const worker = startWorker(redis.url, queue, "t1");
  await until("t1 answering a row", async () => (await workerRecord(store, "t1"))?.current ?? undefined);
  worker.child.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  // The rows it was answering (--parallel, default 4, at once).
  expect(worker.stderr()).toMatch(/finishing row "t\d"(, row "t\d")*, then stopping/);
  const s = await status(queue);
  expect(s.counts.active).toBe(0); // nothing left half-done
  expect(s.counts.completed).toBeGreaterThanOrEqual(1);
  expect(s.answered).toBe(s.counts.completed); // every acknowledged row has its stored answer
  expect(s.counts.waiting).toBeGreaterThanOrEqual(1); // it took no new row after the signal
  expect(s.workers[0]).toMatchObject({ name: "t1", connected: false, current: null });
  expect(s.workers[0].stoppedAt).toBeDefined();

  // collect without --wait writes the answered prefix and says what it waits for.
  const out = join(dir, "term-results.jsonl");
  const partial = await cli("queue", "collect", "--redis", redis.url, "--queue", queue, "--out", out);
  expect(partial.code).toBe(3);
  expect(partial.err).toMatch(/next in order is row "t\d" \(line \d\), waiting/);
  const lines = readLines(out);
  expect(lines.map((l) => l.id)).toEqual(ids.slice(0, lines.length).map((r) => r.id));
});

test("Redis killed and restarted with AOF: no finished answer is lost, and the worker (which waited for Redis to start) carries on", async () => {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const queue = "aofq";
  // The worker starts before Redis does: it retries with backoff.
  const worker = startWorker(url, queue, "a1");
  await until("the worker retrying", async () => /unreachable \(connection refused/.test(worker.stderr()));
  const aof = await startRedis({ aof: true, port });
  let aofClient: Redis | undefined;
  try {
    const ids = storyRows("r", 16);
    const input = writeInput("aof.jsonl", ids);
    expect((await cli("queue", "push", "--redis", url, "--queue", queue, "--in", input, "--seed", "4", ...SLOW)).code).toBe(0);
    aofClient = await connectRedis({ url, waitForServer: true });
    const store = new QueueStore(aofClient, queue);
    const before = await until("some answers", async () => {
      const n = await store.resultCount();
      return n >= 5 ? n : undefined;
    });
    await aof.kill(); // SIGKILL: no shutdown save; only what the AOF holds survives
    await aof.restart();
    const bull = openQueue(aofClient, queue);
    try {
      const completed = await bull.getCompleted(0, -1);
      const stored = await store.getResults(completed.map((j) => j.id!));
      expect(stored.every((line) => line !== null)).toBe(true); // every acknowledged row has its answer
      expect(await store.resultCount()).toBeGreaterThanOrEqual(before);
      expect(await store.orderSize()).toBe(ids.length);
    } finally {
      await bull.close();
    }
    const out = join(dir, "aof-results.jsonl");
    const collected = await cli("queue", "collect", "--redis", url, "--queue", queue, "--out", out, "--wait", "--quiet");
    expect(collected.code).toBe(0);
    const lines = readLines(out);
    expect(lines.map((l) => l.id)).toEqual(ids.map((r) => r.id));
    expect(worker.stderr()).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ lost/);
    expect(worker.stderr()).toMatch(/connected again/);
    const resultKey = jobIdOf(idKey("r0"));
    expect(await store.getResults([resultKey])).toEqual([expect.stringContaining('"id":"r0"')]);
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(readdirSync(aof.dir)).toContain("appendonlydir");
  } finally {
    if (aofClient) await closeRedis(aofClient);
    await aof.stop();
  }
  expect(existsSync(aof.dir)).toBe(false);
});

describe("mistakes give one clear line", () => {
  test("Redis not running", async () => {
    const port = await freePort();
    for (const argv of [
      ["queue", "push", "--redis", `redis://127.0.0.1:${port}`, "--queue", "q", "--in", "README.md"],
      ["queue", "status", "--redis", `redis://127.0.0.1:${port}`, "--queue", "q"],
      ["queue", "collect", "--redis", `redis://127.0.0.1:${port}`, "--queue", "q", "--out", join(dir, "x.jsonl")],
    ]) {
      const r = await cli(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`inference-guard: cannot reach Redis at redis://127.0.0.1:${port}: connection refused (is redis-server running there?)\n`);
    }
  });

  test.each([
    [["queue", "status"], /--queue NAME is required/],
    [["queue", "status", "--queue", "a b"], /--queue: use 1-100 letters/],
    [["queue", "status", "--queue", "q", "--redis", "http://x"], /--redis: expected a Redis URL/],
    [["queue", "frobnicate"], /unknown queue subcommand "frobnicate"/],
    [["queue", "retry"], /--queue NAME is required/],
    [["queue", "push", "--queue", "q"], /--in FILE is required/],
    [["queue", "push", "--queue", "q", "--in", "/nope.jsonl"], /input file not found: \/nope\.jsonl/],
    [["queue", "push", "--queue", "q", "--in", "README.md", "--attempts", "0"], /--attempts: Too small/],
    [["queue", "collect", "--queue", "q"], /--out FILE is required/],
    [["worker", "--queue", "q", "--lock-duration", "5"], /--lock-duration: Too small/],
    [["worker", "--queue", "q", "--model", "/nope.gguf"], /nope\.gguf/],
  ])("%j", async (argv, message) => {
    const r = await cli(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  test("collect from a queue with no rows, or into another queue's file", async () => {
    const empty = await cli("queue", "collect", "--redis", redis.url, "--queue", "nothing-here", "--out", join(dir, "none.jsonl"));
    expect(empty.code).toBe(2);
    expect(empty.err).toMatch(/queue "nothing-here" has no rows/);
    const input = writeInput("one.jsonl", [{ id: "a0", prompt: "Once" }]);
    expect((await cli("queue", "push", "--redis", redis.url, "--queue", "oneq", "--in", input)).code).toBe(0);
    const other = join(dir, "other.jsonl");
    writeFileSync(other, JSON.stringify({ id: "zz", text: "x", cost: 0 }) + "\n");
    const wrong = await cli("queue", "collect", "--redis", redis.url, "--queue", "oneq", "--out", other);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/other\.jsonl line 1 is id "zz", but queue "oneq" has id "a0" there/);
  });

  test("a worker with another model or cost model than the queue's first worker is refused", async () => {
    const store = new QueueStore(client, "modelq");
    await store.claimMeta("answeredWith", "model other.gguf (1 bytes), cost default=rules:x.json (2 bytes), critic none");
    const r = await cli("worker", "--redis", redis.url, "--queue", "modelq", "--model", STORIES_MODEL, "--threads", "1", "--quiet");
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/queue "modelq" is answered with model other\.gguf .*; this worker has model stories260K\.gguf \(\d+ bytes\), cost assistant=harm:chat-harm\.json \(sha256 [0-9a-f]{16}\) default=rules:conflict-lexicon\.json \(sha256 [0-9a-f]{16}\)/);
  });

  test("a cost file is told by its content: same name and size, other terms, is refused; a copy elsewhere is accepted", async () => {
    // Two builds of one cost file (as chat-harm.json's fixed-length sha256 pins): same name, same size.
    const lexicon = (word: string) => JSON.stringify({ terms: { [word]: 1 } }) + "\n";
    const files = ["a", "b", "c"].map((d) => join(dir, `content-${d}`, "lexicon.json"));
    for (const [i, word] of ["dragon", "wizard", "dragon"].entries()) {
      mkdirSync(join(files[i]!, ".."), { recursive: true });
      writeFileSync(files[i]!, lexicon(word));
    }
    expect(statSync(files[0]!).size).toBe(statSync(files[1]!).size);
    const worker = (file: string) => cli("worker", "--redis", redis.url, "--queue", "contentq", "--model", STORIES_MODEL, "--threads", "1", "--cost", `rules:${file}`, "--exit-when-empty", "--quiet");
    expect((await worker(files[0]!)).code).toBe(0);
    const other = await worker(files[1]!);
    expect(other.code).toBe(2);
    expect(other.err.trim().split("\n")).toHaveLength(1);
    expect(other.err).toMatch(/queue "contentq" is answered with .*cost default=rules:lexicon\.json \(sha256 [0-9a-f]{16}\).*; this worker has .*cost default=rules:lexicon\.json \(sha256 [0-9a-f]{16}\)/);
    expect((await worker(files[2]!)).code).toBe(0);
  });

  test("--help for each command", async () => {
    const expectations: Array<[string[], string[]]> = [
      [["queue", "--help"], ["push", "status", "collect", "retry"]],
      [["queue", "push", "--help"], ["--redis", "--queue", "--in", "--cost-model", "--attempts", "--retry-delay", "--seed", "--max-tokens", "--budget", "--chat"]],
      [["queue", "status", "--help"], ["--redis", "--queue", "--json"]],
      [["queue", "collect", "--help"], ["--redis", "--queue", "--out", "--wait", "--quiet"]],
      [["queue", "retry", "--help"], ["--redis", "--queue"]],
      [["worker", "--help"], ["--redis", "--queue", "--model", "--cost", "--cost-model", "--critic", "--threads", "--lock-duration", "--stalled-interval", "--max-stalled", "--exit-when-empty", "--name"]],
    ];
    for (const [argv, flags] of expectations) {
      const r = await cli(...argv);
      expect(r.code).toBe(0);
      for (const flag of flags) expect(r.out).toContain(flag);
    }
  });
});

test("the test Redis kept no persistence files", async () => {
  expect(readdirSync(redis.dir)).toEqual([]);
});
