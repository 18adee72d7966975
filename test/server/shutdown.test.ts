// Graceful shutdown: the real `inference-guard serve` process on SIGTERM finishes the running
// request, refuses the queued one and exits 0; past the grace period a running stream is cancelled
// with an error event rather than passed off as complete.
import { spawn, type ChildProcess } from "node:child_process";
import { connect, type Socket } from "node:net";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { createGuardServer } from "../../src/server/index.js";
import { STORIES_MODEL } from "../helpers/models.js";

const MODEL = "stories260K";

function startCli(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, "bin", "inference-guard.js"), "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    child.stdout!.on("data", (d) => {
      stdout += d;
      const match = /at (http:\/\/\S+)\/v1 /.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, stderr: () => stderr, exited });
      }
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("SIGTERM: the running request finishes, the queued one gets 503, the process exits 0", async () => {
  // One slot, so the second request waits in the queue (with the default 4 it would run).
  const { child, url, stderr, exited } = await startCli(["--model", STORIES_MODEL, "--port", "0", "--shutdown-grace", "30", "--quiet", "--parallel", "1", "--beams", "1", "--max-tokens", "2000"]);
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "none", maxRetries: 0 });
  const health = async () => (await fetch(`${url}/health`)).json() as Promise<any>;

  // ~2-3 s of generation: long enough to be running when the signal comes.
  const stream = await client.completions.create({
    model: MODEL, prompt: "Once upon a time", max_tokens: 300, ignore_eos: true, stream: true,
    stream_options: { include_usage: true }, guard: { beams: 1, samples: 16, width: 8 },
  } as never);
  const iterator = (stream as any)[Symbol.asyncIterator]();
  await iterator.next(); // it is running
  const queued = client.completions.create({ model: MODEL, prompt: "Once", max_tokens: 4 } as never).then(
    () => "answered",
    (error) => error.status,
  );
  await waitFor(async () => (await health()).queue.waiting === 1, "the second request to queue");

  child.kill("SIGTERM");
  expect(await queued).toBe(503);
  let last: any;
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) last = r.value;
  expect(last.usage.completion_tokens).toBe(300); // the whole answer, not a cut-short one
  expect(last.guard.stopReason).toBe("max-tokens");
  expect(await exited).toBe(0);
  expect(stderr()).toMatch(/SIGTERM: shutting down/);
  expect(stderr()).toMatch(/stopped/);
  await expect(fetch(`${url}/health`)).rejects.toThrow(); // no longer listening
});

test("SIGTERM with stuck clients (a body never finished, a stream never read, an idle keep-alive): exits 0 within the grace and a few seconds, says so in one line", async () => {
  const { child, url, stderr, exited } = await startCli(["--model", STORIES_MODEL, "--port", "0", "--shutdown-grace", "2", "--quiet", "--parallel", "1", "--beams", "1", "--max-tokens", "2000"]);
  const { hostname, port } = new URL(url);
  const sockets: Socket[] = [];
  const open = async (): Promise<Socket> => {
    const socket = connect(Number(port), hostname);
    socket.on("error", () => {});
    sockets.push(socket);
    await new Promise((resolve) => socket.once("connect", resolve));
    return socket;
  };
  try {
    // A request whose body never finishes (a client that hung mid-upload).
    (await open()).write("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\": ");
    // A long stream whose client never reads a byte of it: ~20 s of search here (branching on every
    // block, never cruising), so that it still runs when the 2 s grace ends on a much faster machine.
    const reader = await open();
    reader.pause();
    const body = JSON.stringify({ model: MODEL, prompt: "Once upon a time", max_tokens: 2000, ignore_eos: true, stream: true, guard: { beams: 4, samples: 32, width: 8, branch: "always" } });
    reader.write(`POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    // An idle keep-alive connection that already had its answer.
    const idle = await open();
    idle.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await new Promise((resolve) => idle.once("data", resolve));
    await waitFor(async () => ((await (await fetch(`${url}/health`)).json()) as any).queue.running === 1, "the stream to run");

    const signalled = Date.now();
    child.kill("SIGTERM");
    const code = await exited;
    expect(code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(2_000 + 15_000); // the grace, then seconds (more on a loaded machine)
    const lines = stderr().trim().split("\n");
    expect(lines).toEqual([
      "inference-guard: SIGTERM: shutting down (finishing 1 running requests, at most 2 s; 0 waiting get 503)",
      "inference-guard: stopped: 0 requests finished, 1 cancelled, 0 refused while shutting down",
    ]);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
});

/** Processes whose command line contains `marker` (Linux /proc), for finding an orphaned server. */
function processesWith(marker: string): number[] {
  if (!existsSync("/proc")) return [];
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test("SIGTERM to `npx inference-guard serve` (README's command) stops node too and frees the port", async () => {
  // npm runs the bin through `sh -c`; npm passes SIGTERM to that shell, which dies without passing
  // it on. Supervisors and containers signal the process they started: npx.
  const marker = `sigterm-${process.pid}-${Date.now()}`;
  const npx = spawn("npx", ["inference-guard", "serve", "--model", STORIES_MODEL, "--port", "0", "--quiet", "--model-name", marker], {
    cwd: PACKAGE_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    let stdout = "";
    let stderr = "";
    npx.stderr!.on("data", (d) => (stderr += d));
    const npxExited = new Promise<number | null>((resolve) => npx.on("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      npx.stdout!.on("data", (d) => {
        stdout += d;
        const match = /at (http:\/\/\S+)\/v1 /.exec(stdout);
        if (match) resolve(match[1]!);
      });
      void npxExited.then((code) => reject(new Error(`npx exited with ${code}: ${stderr}`)));
    });
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(processesWith(marker).length).toBeGreaterThan(0);

    npx.kill("SIGTERM");
    await npxExited;
    // node shuts down as on its own SIGTERM: the port is freed and no process is left behind.
    const deadline = Date.now() + 20_000;
    let listening = true;
    while (listening && Date.now() < deadline) {
      listening = await fetch(`${url}/health`).then(() => true, () => false);
      if (listening) await new Promise((r) => setTimeout(r, 100));
    }
    expect(listening).toBe(false);
    await waitFor(async () => processesWith(marker).length === 0, "the server process to exit");
  } finally {
    for (const pid of processesWith(marker)) process.kill(pid, "SIGKILL"); // never leave one behind
  }
});

test("Ctrl-C to `npx inference-guard serve` (the whole process group) still lets the running request finish", async () => {
  // The shell npm started dies of the SIGINT too: that must not count as a second signal.
  const marker = `sigint-${process.pid}-${Date.now()}`;
  const npx = spawn("npx", ["inference-guard", "serve", "--model", STORIES_MODEL, "--port", "0", "--quiet", "--shutdown-grace", "30", "--model-name", marker, "--beams", "1", "--max-tokens", "300"], {
    cwd: PACKAGE_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, as a terminal's foreground job
  });
  const npxExited = new Promise((resolve) => npx.on("exit", resolve));
  try {
    let stdout = "";
    const url = await new Promise<string>((resolve, reject) => {
      npx.stdout!.on("data", (d) => {
        stdout += d;
        const match = /at (http:\/\/\S+)\/v1 /.exec(stdout);
        if (match) resolve(match[1]!);
      });
      npx.on("exit", (code) => reject(new Error(`npx exited with ${code}`)));
    });
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "none", maxRetries: 0 });
    const stream = await client.completions.create({
      model: marker, prompt: "Once upon a time", max_tokens: 300, ignore_eos: true, stream: true,
      stream_options: { include_usage: true }, guard: { beams: 1, samples: 16, width: 8 },
    } as never);
    const iterator = (stream as any)[Symbol.asyncIterator]();
    await iterator.next(); // it is running
    process.kill(-npx.pid!, "SIGINT");
    let last: any;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) last = r.value;
    expect(last.usage.completion_tokens).toBe(300); // finished, not cancelled
    await waitFor(async () => processesWith(marker).length === 0, "the server process to exit");
    await npxExited; // npm too: its pipes must not outlive the test (jest's worker would not exit)
  } finally {
    for (const pid of processesWith(marker)) process.kill(pid, "SIGKILL");
  }
});

test("past the grace period a running stream is cancelled with an error event; close() frees everything", async () => {
  const server = await createGuardServer({ model: STORIES_MODEL, threads: 1, port: 0, defaults: { beams: 1, maxTokens: 1500 } });
  const url = await server.listen();
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "none", maxRetries: 0 });
  const stream = await client.completions.create({
    model: MODEL, prompt: "Once upon a time", max_tokens: 1500, ignore_eos: true, stream: true, guard: { beams: 1, samples: 16, width: 8 },
  } as never);
  const iterator = (stream as any)[Symbol.asyncIterator]();
  await iterator.next();
  const started = Date.now();
  const closed = server.close({ graceSeconds: 0.2 });
  let error: any;
  try {
    while (!(await iterator.next()).done);
  } catch (e) {
    error = e;
  }
  expect(error?.message).toMatch(/shut down before the answer was finished/);
  await closed;
  expect(Date.now() - started).toBeLessThan(5_000); // the 1,500-token answer alone takes ~10 s
  expect(server.stats).toMatchObject({ shuttingDown: true, queue: { running: 0, waiting: 0 } });
  expect(server.stats.requests.cancelled).toBe(1);
});
