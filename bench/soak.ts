// Soak (not a test): the real `inference-guard serve` process on loopback under sustained mixed
// load for a bounded time (default 5 minutes), then checks and figures for docs/server.md.
//
//   npx tsx bench/soak.ts [--minutes 5 | --seconds S] [--clients 16] [--parallel 4] [--max-queue 8]
//                         [--abort-share 0.2] [--stream-share 0.5] [--threads 1] [--model PATH] [--out FILE]
//
// Load: --clients loops, each sending one request after another: chat or completion, streamed
// (--stream-share) or not, 8-64 tokens of guarded search on stories260K. A share of the streamed
// ones (--abort-share) is aborted by the client after its first chunk. With more clients than
// --parallel + --max-queue, some requests find the queue full: their 429 must carry Retry-After
// (and retry-after-ms), and the client waits that long (at most 2 s) before its next request.
//
// Checks (the script exits 1 if one fails):
//   - every request has exactly one outcome at the client (answer, 429, aborted by us), and no
//     5xx, 4xx other than 429, dropped connection or cut-short answer;
//   - no request lost or answered twice: each request carries a unique `user`, and the server's
//     log has at most one line for it, exactly one for each answered or aborted one, and every
//     answer's id (chatcmpl-/cmpl-) is unique;
//   - the server's counters agree: completed = answers logged, refused = 429s (+0 503s), failed 0;
//   - every 429 carried Retry-After and retry-after-ms;
//   - after the load, a normal request is answered (200) and SIGTERM stops the server (exit 0).
// Reports the server's RSS over time (from /proc, every 10 s) and its growth over the second half.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT, SHARED_DIR } from "../src/paths.js";
import { mulberry32 } from "../src/util/random.js";
import { float, int, type FlagTable } from "../src/cli/flagTable.js";
import { OUT_FLAG, benchFlags, benchUsage, countFlag, share } from "./flags.js";

const FLAGS = {
  minutes: { metavar: "M", help: "how long the load runs", parse: float(), default: 5 },
  seconds: { metavar: "S", help: "instead of --minutes, in seconds", parse: float() },
  clients: countFlag("N", "client loops, one request after another each", 16),
  parallel: countFlag("N", "the server's --parallel", 4),
  "max-queue": { metavar: "N", help: "the server's --max-queue", parse: int(0), default: 8 },
  "abort-share": { metavar: "F", help: "share of streamed requests aborted after their first chunk", parse: share, default: 0.2 },
  "stream-share": { metavar: "F", help: "share of requests streamed", parse: share, default: 0.5 },
  threads: countFlag("N", "the server's --threads", 1),
  model: { metavar: "PATH", help: "GGUF the server loads", default: join(SHARED_DIR, "models", "stories260K.gguf"), defaultText: "../shared/models/stories260K.gguf" },
  seed: { metavar: "S", help: "seeds the request mix", parse: int(0), default: 1 },
  out: OUT_FLAG,
} as const satisfies FlagTable;

const values = benchFlags("soak", FLAGS, benchUsage("soak", "The real serve process on loopback under sustained mixed load, then checks and figures.", FLAGS));
const durationS = values.seconds ?? values.minutes * 60;
const CLIENTS = values.clients;
const ABORT_SHARE = values["abort-share"];
const STREAM_SHARE = values["stream-share"];
const SAMPLE_MS = 10_000;
const OPENINGS = ["Once upon a time", "The little dog", "Lily and Ben", "One sunny day", "There was a bird", "Tom had a red ball", "The sun was hot", "Sue found a box"];

const random = mulberry32(values.seed); // seeded: a run's request mix is reproducible

type Outcome = "answered" | "streamed" | "aborted" | "busy" | "error";

interface Tally {
  sent: number;
  outcomes: Record<Outcome, number>;
  busyWithoutRetryAfter: number;
  errors: string[];
  answerIds: string[];
  latenciesMs: number[];
  tokens: number;
}

const tally: Tally = {
  sent: 0,
  outcomes: { answered: 0, streamed: 0, aborted: 0, busy: 0, error: 0 },
  busyWithoutRetryAfter: 0,
  errors: [],
  answerIds: [],
  latenciesMs: [],
  tokens: 0,
};
/** Each request's user tag and what the client saw. */
const seen = new Map<string, Outcome>();

async function startServer(): Promise<{ pid: number; url: string; log: () => string; exited: Promise<number | null>; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [join(PACKAGE_ROOT, "bin", "inference-guard.js"), "serve", "--model", values.model, "--port", "0", "--threads", String(values.threads), "--parallel", String(values.parallel), "--max-queue", String(values["max-queue"]), "--shutdown-grace", "10"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      stdout += d;
      const match = /at (http:\/\/\S+)\/v1 /.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { pid: child.pid!, url, log: () => stderr, exited, stop: () => child.kill("SIGTERM") };
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : NaN;
}

function requestBody(tag: string, stream: boolean): { path: string; body: object } {
  const maxTokens = 8 + Math.floor(random() * 57);
  const opening = OPENINGS[Math.floor(random() * OPENINGS.length)]!;
  const common = { model: "stories260K", max_tokens: maxTokens, seed: Math.floor(random() * 1e6), stream, user: tag, ...(stream ? { stream_options: { include_usage: true } } : {}) };
  return random() < 0.5
    ? { path: "/v1/chat/completions", body: { ...common, messages: [{ role: "user", content: `Tell me a story about ${opening.toLowerCase()}` }] } }
    : { path: "/v1/completions", body: { ...common, prompt: opening } };
}

async function oneRequest(url: string, tag: string): Promise<{ retryAfterMs?: number }> {
  const stream = random() < STREAM_SHARE;
  const abort = stream && random() < ABORT_SHARE;
  const { path, body } = requestBody(tag, stream);
  const controller = new AbortController();
  const started = performance.now();
  tally.sent++;
  const record = (outcome: Outcome, note?: string): void => {
    if (seen.has(tag)) tally.errors.push(`${tag}: a second outcome ${outcome} after ${seen.get(tag)}`);
    seen.set(tag, outcome);
    tally.outcomes[outcome]++;
    if (note) tally.errors.push(`${tag}: ${note}`);
  };
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: controller.signal });
  } catch (error) {
    record("error", `no response: ${(error as Error).message}`);
    return {};
  }
  if (res.status === 429) {
    const retryAfter = res.headers.get("retry-after");
    const retryAfterMs = res.headers.get("retry-after-ms");
    if (retryAfter === null || !/^\d+$/.test(retryAfter) || retryAfterMs === null || !/^\d+$/.test(retryAfterMs)) tally.busyWithoutRetryAfter++;
    await res.text();
    record("busy");
    return { retryAfterMs: Number(retryAfterMs ?? 1000) };
  }
  if (res.status !== 200) {
    record("error", `status ${res.status}: ${(await res.text()).slice(0, 200)}`);
    return {};
  }
  if (!stream) {
    const data = (await res.json()) as { id: string; usage: { completion_tokens: number } };
    tally.answerIds.push(data.id);
    tally.tokens += data.usage.completion_tokens;
    tally.latenciesMs.push(performance.now() - started);
    record("answered");
    return {};
  }
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (abort && text.includes("\n\n")) {
        controller.abort();
        record("aborted");
        return {};
      }
    }
  } catch (error) {
    record("error", `stream broke: ${(error as Error).message}`);
    return {};
  }
  const events = text.split("\n\n").filter((e) => e !== "");
  if (events.at(-1) !== "data: [DONE]" || events.filter((e) => e === "data: [DONE]").length !== 1) {
    record("error", `a stream not ended by exactly one [DONE]: ${text.slice(-200)}`);
    return {};
  }
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice("data: ".length)) as { id: string; error?: unknown; usage?: { completion_tokens: number } });
  if (chunks.some((c) => c.error !== undefined)) {
    record("error", "an error event in a stream");
    return {};
  }
  tally.answerIds.push(chunks[0]!.id);
  tally.tokens += chunks.at(-1)?.usage?.completion_tokens ?? 0;
  tally.latenciesMs.push(performance.now() - started);
  record("streamed");
  return {};
}

async function main(): Promise<void> {
  const load = loadavg()[0]!;
  const server = await startServer();
  const rss: Array<{ s: number; mb: number; requests: number }> = [];
  const t0 = performance.now();
  const elapsed = (): number => (performance.now() - t0) / 1000;
  rss.push({ s: 0, mb: rssMb(server.pid), requests: 0 });
  const sampler = setInterval(() => rss.push({ s: Math.round(elapsed()), mb: rssMb(server.pid), requests: tally.sent }), SAMPLE_MS);
  process.stderr.write(`soak: ${durationS} s, ${CLIENTS} clients, --parallel ${values.parallel} --max-queue ${values["max-queue"]}, server pid ${server.pid} at ${server.url}\n`);

  let next = 0;
  const deadline = t0 + durationS * 1000;
  const client = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const tag = `soak-${next++}`;
      const { retryAfterMs } = await oneRequest(server.url, tag);
      if (retryAfterMs !== undefined) await new Promise((r) => setTimeout(r, Math.min(2000, Math.max(50, retryAfterMs))));
    }
  };
  const progress = setInterval(() => process.stderr.write(`soak: ${Math.round(elapsed())} s, ${tally.sent} requests, ${JSON.stringify(tally.outcomes)}, RSS ${rss.at(-1)!.mb.toFixed(0)} MB\n`), 30_000);
  await Promise.all(Array.from({ length: CLIENTS }, client));
  clearInterval(progress);
  clearInterval(sampler);
  const loadSeconds = elapsed();
  rss.push({ s: Math.round(loadSeconds), mb: rssMb(server.pid), requests: tally.sent });

  // After the load: nothing left running, a normal request answered, counters agree.
  await new Promise((r) => setTimeout(r, 500));
  const health = (await (await fetch(`${server.url}/health`)).json()) as { queue: { running: number; waiting: number }; requests: Record<string, number> };
  const after = await fetch(`${server.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "x", prompt: "Once upon a time", max_tokens: 16, seed: 1, user: "after-soak" }) });
  const afterOk = after.status === 200 && ((await after.json()) as { choices: unknown[] }).choices.length === 1;
  server.stop();
  const exitCode = await server.exited;

  // The server's log: one line per request it queued (answered 200, cancelled 499, 503), by user tag.
  const logged = new Map<string, string[]>();
  for (const line of server.log().split("\n")) {
    const m = / (\d{3})( stream)? [\d.]+s user="(soak-\d+)"/.exec(line);
    if (m) logged.set(m[3]!, [...(logged.get(m[3]!) ?? []), m[1]!]);
  }
  const problems = [...tally.errors];
  for (const [tag, statuses] of logged) if (statuses.length > 1) problems.push(`${tag} logged ${statuses.length} times (${statuses.join(", ")})`);
  for (const [tag, outcome] of seen) {
    const statuses = logged.get(tag) ?? [];
    if ((outcome === "answered" || outcome === "streamed") && statuses[0] !== "200") problems.push(`${tag} answered at the client, logged ${statuses.join(",") || "never"}`);
    if (outcome === "aborted" && !(statuses[0] === "499" || statuses[0] === "200")) problems.push(`${tag} aborted at the client, logged ${statuses.join(",") || "never"}`);
  }
  const unknown = [...logged.keys()].filter((tag) => !seen.has(tag));
  if (unknown.length > 0) problems.push(`${unknown.length} logged requests the clients never sent`);
  if (new Set(tally.answerIds).size !== tally.answerIds.length) problems.push("an answer id came twice");
  const answeredLogged = [...logged.values()].filter((s) => s[0] === "200").length;
  const r = health.requests;
  if (r.completed !== answeredLogged) problems.push(`server completed ${r.completed}, log has ${answeredLogged} answers`);
  if (r.refused !== tally.outcomes.busy) problems.push(`server refused ${r.refused}, clients saw ${tally.outcomes.busy} 429s`);
  if (r.failed !== 0 || r.badRequests !== 0) problems.push(`server counted ${r.failed} failed, ${r.badRequests} bad requests`);
  if (r.completed + r.cancelled + r.refused !== tally.sent) problems.push(`server accounted for ${r.completed + r.cancelled + r.refused} of ${tally.sent} requests`);
  if (tally.busyWithoutRetryAfter > 0) problems.push(`${tally.busyWithoutRetryAfter} 429s without Retry-After / retry-after-ms`);
  if (health.queue.running !== 0 || health.queue.waiting !== 0) problems.push(`after the load: ${health.queue.running} running, ${health.queue.waiting} waiting`);
  if (!afterOk) problems.push(`the request after the soak got ${after.status}`);
  if (exitCode !== 0) problems.push(`SIGTERM: the server exited ${exitCode}`);

  const half = rss.filter((p) => p.s >= loadSeconds / 2);
  const sorted = [...tally.latenciesMs].sort((a, b) => a - b);
  const pct = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const summary = {
    seconds: Math.round(loadSeconds),
    clients: CLIENTS,
    parallel: values.parallel,
    maxQueue: values["max-queue"],
    cores: cpus().length,
    loadAverageBefore: Number(load.toFixed(2)),
    loadAverageAfter: Number(loadavg()[0]!.toFixed(2)),
    sent: tally.sent,
    outcomes: tally.outcomes,
    server: health.requests,
    answersPerSecond: Number(((tally.outcomes.answered + tally.outcomes.streamed) / loadSeconds).toFixed(2)),
    tokensPerSecond: Math.round(tally.tokens / loadSeconds),
    latencyMs: { p50: Math.round(pct(0.5)), p90: Math.round(pct(0.9)), p99: Math.round(pct(0.99)) },
    rssMb: rss.map((p) => ({ s: p.s, mb: Number(p.mb.toFixed(1)), requests: p.requests })),
    rssSecondHalfGrowthMb: half.length > 1 ? Number((half.at(-1)!.mb - half[0]!.mb).toFixed(1)) : null,
    afterSoak: afterOk ? 200 : after.status,
    exitCode,
    problems,
  };
  const json = JSON.stringify(summary, null, 2);
  if (values.out) writeFileSync(values.out, json + "\n");
  process.stdout.write(json + "\n");
  process.stdout.write(
    `\n| s | RSS MB | requests sent |\n|---:|---:|---:|\n${summary.rssMb.map((p) => `| ${p.s} | ${p.mb.toFixed(1)} | ${p.requests} |`).join("\n")}\n`,
  );
  process.stderr.write(problems.length === 0 ? "soak: every check held\n" : `soak: ${problems.length} problems:\n${problems.slice(0, 20).join("\n")}\n`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}

await main();
