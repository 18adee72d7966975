// The package as an app meets it. The Node.js requirement package.json (and README) states is
// true of every installed package; and the packed tarball, installed into a fresh app with npm's
// default (hoisted) layout and no compiler on the PATH, loads its prebuilt addon and answers chat
// with the shipped defaults, names a shipped cost model by its spec from the app's folder, runs
// the example backend (examples/guarded-chat-server) and the CLI on the shipped default model;
// forced to build from source, it says what is missing without a toolchain and builds with one.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { createRequire } from "node:module";
import { PACKAGE_ROOT } from "../src/paths.js";

// npm's own range logic (installed with fastify; it ships no types).
const semver = createRequire(import.meta.url)("semver") as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
};

const ours = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).engines.node as string;
/** The lowest version of each range our engines field allows (e.g. 20.17.0 and 22.9.0). */
const lowest = ours.split("||").map((range) => semver.minVersion(range.trim())!.version);

/** Every package.json under node_modules (nested ones too), with its engines.node. */
function installedEngines(nodeModules: string): Array<{ name: string; version: string; node: string }> {
  const found: Array<{ name: string; version: string; node: string }> = [];
  const walk = (modules: string): void => {
    if (!existsSync(modules)) return;
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith(".")) continue;
      const dirs = entry.startsWith("@") ? readdirSync(join(modules, entry)).map((e) => join(modules, entry, e)) : [join(modules, entry)];
      for (const dir of dirs) {
        const file = join(dir, "package.json");
        if (!existsSync(file)) continue;
        const pkg = JSON.parse(readFileSync(file, "utf8"));
        if (typeof pkg.engines?.node === "string") found.push({ name: pkg.name, version: pkg.version, node: pkg.engines.node });
        walk(join(dir, "node_modules"));
      }
    }
  };
  walk(nodeModules);
  return found;
}

/** Installed packages whose engines.node leaves out the first release of a Node line we support. */
function unmetEngines(nodeModules: string): string[] {
  return installedEngines(nodeModules).flatMap((p) =>
    lowest.filter((v) => !semver.satisfies(v, p.node)).map((v) => `${p.name}@${p.version} needs node ${p.node}, not ${v}`),
  );
}

test("each supported Node line's first release satisfies every installed package's engines.node", () => {
  expect(lowest.length).toBeGreaterThan(0);
  expect(unmetEngines(join(PACKAGE_ROOT, "node_modules"))).toEqual([]);
});

test("README states the same Node.js requirement", () => {
  const readme = readFileSync(join(PACKAGE_ROOT, "README.md"), "utf8");
  for (const range of ours.split("||")) expect(readme).toContain(semver.minVersion(range.trim())!.version.replace(/\.0$/, ""));
});

// ---- the packed tarball in a fresh app ----

const ASSISTANT_MODEL = join(PACKAGE_ROOT, "models", "testbed", "tiny-assistant.gguf");
const EXAMPLE = join(PACKAGE_ROOT, "examples", "guarded-chat-server");
const work = mkdtempSync(join(tmpdir(), "inference-guard-package-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a command to its end (a hung one is killed after `timeoutMs`). */
function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 240_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** The environment of a shell in a fresh app: no npm lifecycle variables of this test run, none of ours. */
function appEnv(path: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|INIT_CWD$|NODE_OPTIONS$|INFERENCE_GUARD_|CXX$|CC$)/i.test(k)));
  return { ...env, PATH: path, ...extra };
}

function which(command: string): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) if (dir && existsSync(join(dir, command))) return realpathSync(join(dir, command));
  throw new Error(`${command} is not on the PATH`);
}

/** A PATH with node, npm, npx and sh only: no compiler, make or Python. */
function bareToolsPath(): string {
  const bin = join(work, "bare-bin");
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, "node"));
  for (const tool of ["npm", "npx", "sh"]) symlinkSync(which(tool), join(bin, tool));
  return bin;
}

/** A fresh app folder (a copy of the example backend) with the tarball installed by npm's defaults. */
async function installApp(name: string, tarball: string, path: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ dir: string; install: Run }> {
  const dir = join(work, name);
  cpSync(EXAMPLE, dir, { recursive: true });
  cpSync(join(PACKAGE_ROOT, "test", "package", "app-check.mjs"), join(dir, "app-check.mjs"));
  const local = join(dir, "inference-guard.tgz");
  cpSync(tarball, local);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  // npm matches a tarball's allowScripts entry by where it was resolved from, not by its name.
  pkg.allowScripts = { [`file:${local}`]: true, ...pkg.allowScripts };
  delete pkg.allowScripts["inference-guard"];
  delete pkg.dependencies["inference-guard"];
  writeFileSync(join(dir, "package.json"), JSON.stringify(pkg, null, 2));
  const install = await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", local], { cwd: dir, env: appEnv(path, extraEnv) });
  return { dir, install };
}

let tarball: string;
let packedFiles: string[];
let tools: string;

beforeAll(async () => {
  tools = bareToolsPath();
  // The real `npm pack`: prepack makes the prebuild and copies the default model, prepare compiles the TypeScript.
  const pack = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: PACKAGE_ROOT, env: appEnv(process.env.PATH!) });
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.err}${pack.out}`);
  const report = JSON.parse(pack.out.slice(pack.out.indexOf("[\n")))[0] as { filename: string; files: Array<{ path: string }>; size: number };
  tarball = join(work, report.filename);
  packedFiles = report.files.map((f) => f.path);
}, 300_000);

test("the tarball holds what an app runs, and not the repo's tests, benchmarks or testbed", () => {
  for (const file of [
    "dist/index.js",
    "dist/index.d.ts",
    "bin/inference-guard.js",
    "prebuilds/linux-x64/inference_guard.node",
    "prebuilds/linux-x64/inference_guard.json",
    "binding.gyp",
    "native/install.mjs",
    "native/sources.txt",
    "native/engine/llama_engine.cpp",
    "native/llama-headers/include/llama.h",
    "models/chat-harm.json",
    "models/chat-harm-classifier.bin",
    "models/chat-request-harm.bin",
    "models/chat-compliance.bin",
    "models/harm-classifier.bin",
    "models/smollm2-135m-instruct-reward.json",
    "models/smollm2-135m-instruct-critic.bin",
    "models/conflict-lexicon.json",
    "default-model/stories260K.gguf",
  ]) {
    expect(packedFiles).toContain(file);
  }
  const unwanted = packedFiles.filter((f) => /^(test|bench|scripts|docs|src|\.ci|models\/testbed|build|scratch)\//.test(f) || f.endsWith(".map"));
  expect(unwanted).toEqual([]);
});

describe("installed into a fresh app without a compiler", () => {
  let app: string;
  let install: Run;
  beforeAll(async () => {
    ({ dir: app, install } = await installApp("app", tarball, tools));
  }, 300_000);

  test("npm installs it with npm's default layout, prints no warning, and compiles nothing", () => {
    expect(install.code).toBe(0);
    expect(install.err).not.toMatch(/warn|EBADENGINE|error/i);
    // Hoisted: node-llama-cpp is the app's, not nested in the package (the build once looked only there).
    expect(existsSync(join(app, "node_modules", "node-llama-cpp", "package.json"))).toBe(true);
    expect(existsSync(join(app, "node_modules", "inference-guard", "node_modules", "node-llama-cpp"))).toBe(false);
    // The addon is the prebuilt one, byte for byte; node-gyp never ran.
    const installed = join(app, "node_modules", "inference-guard");
    expect(readFileSync(join(installed, "build", "Release", "inference_guard.node"))).toEqual(readFileSync(join(installed, "prebuilds", "linux-x64", "inference_guard.node")));
    expect(existsSync(join(installed, "build", "config.gypi"))).toBe(false);
    expect(unmetEngines(join(app, "node_modules"))).toEqual([]);
  });

  test("a chat answer with the shipped defaults, and a shipped cost model named by its spec", async () => {
    const r = await run("node", ["app-check.mjs", ASSISTANT_MODEL], { cwd: app, env: appEnv(tools) });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    const installed = realpathSync(join(app, "node_modules", "inference-guard"));
    expect(out.shipped["harm-classifier.bin"]).toBe(join(installed, "models", "harm-classifier.bin"));
    // The chat default: the request-aware harm cost at budget 0.5; streamed text is the answer.
    // withinBudget alone cannot fail (the final check empties an over-budget answer): no fallback, an answer.
    expect(out.defaults).toMatchObject({ budget: 0.5, withinBudget: true, fallback: false, finalCheckEmptied: false });
    expect(out.defaults.tokens).toBeGreaterThan(0);
    expect(out.defaults.streamed).toBe(out.defaults.text);
    // Named from the app's folder as "harm:chat-harm.json" (the chat default, bound to the request either way): the same cost model, the same answer.
    expect(out.named).toMatchObject({ spec: "harm:chat-harm.json", costName: `harm:${join(installed, "models", "chat-harm.json")}`, budget: 0.5, withinBudget: true, fallback: false });
    expect(out.named.text).toBe(out.defaults.text);
    expect(out.named.cost).toBe(out.defaults.cost);
    // Messages the server refuses, the library refuses too; text parts are text.
    expect(out.refusals.tool).toMatch(/^UserError: .*tool messages are not supported/);
    expect(out.refusals.image).toMatch(/^UserError: .*image_url.*not supported/);
    expect(out.refusals.noContent).toMatch(/^UserError: .*content/);
    expect(out.partsSameAnswer).toBe(true);
  });

  test("`npx inference-guard generate` answers from the app's folder with the model the package ships", async () => {
    const r = await run("npx", ["inference-guard", "generate", "--prompt", "Once upon a time", "--max-tokens", "20", "--seed", "1", "--json"], { cwd: app, env: appEnv(tools) });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ method: "guard", tokens: 20, withinBudget: true, fallback: false, finalCheckEmptied: false, budget: 1 });
  });

  test("the example backend streams guarded answers to its caller", async () => {
    const server = spawn("node", ["server.mjs"], { cwd: app, env: appEnv(tools, { PORT: "0", MODEL: ASSISTANT_MODEL }), stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    server.stderr.on("data", (d: Buffer) => (log += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        server.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        server.on("exit", (code) => reject(new Error(`the server exited (${code}): ${log}`)));
      });
      const response = await fetch(`${url}/chat`, {
        method: "POST",
        body: JSON.stringify({ messages: [{ role: "user", content: "How do I bake bread?" }], maxTokens: 32 }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/x-ndjson");
      const events = (await response.text()).trim().split("\n").map((line) => JSON.parse(line) as { type: string; [key: string]: unknown });
      const done = events.at(-1);
      expect(done).toMatchObject({ type: "done", budget: 0.5, withinBudget: true, fallback: false });
      expect(done?.tokens).toBeGreaterThan(0);
      expect(events.slice(0, -1).every((e) => e.type === "text")).toBe(true);
      expect(events.length).toBeGreaterThan(1);

      const bad = await fetch(`${url}/chat`, { method: "POST", body: JSON.stringify({ messages: [{ role: "tool", content: "42" }] }) });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toMatch(/tool messages are not supported/);

      const client = await run("node", ["client.mjs", "Tell me about cats"], { cwd: app, env: appEnv(tools, { URL: url, MAX_TOKENS: "24" }) });
      expect(client.code).toBe(0);
      expect(client.err).toMatch(/of budget 0\.5, within budget/);
    } finally {
      const exited = new Promise((resolve) => server.on("exit", resolve));
      server.kill("SIGTERM");
      await exited;
    }
    expect(log).not.toMatch(/Error/);
  });

  test("forced to build from source without a toolchain, the install says what is missing", async () => {
    const r = await run("npm", ["rebuild", "inference-guard"], { cwd: app, env: appEnv(tools, { INFERENCE_GUARD_BUILD_FROM_SOURCE: "1" }) });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/inference-guard: building the addon from source \(INFERENCE_GUARD_BUILD_FROM_SOURCE=1\), which needs a C\+\+17 compiler \(c\+\+, g\+\+ or clang\+\+\), make, Python 3 on the PATH/);
    expect(r.err).toMatch(/npm rebuild inference-guard/);
  });
});

test("forced to build from source (INFERENCE_GUARD_BUILD_FROM_SOURCE=1) with a toolchain, it builds and answers", async () => {
  const { dir, install } = await installApp("app-source", tarball, process.env.PATH!, { INFERENCE_GUARD_BUILD_FROM_SOURCE: "1" });
  expect(install.code).toBe(0);
  expect(install.err).not.toMatch(/warn|error/i);
  const installed = join(dir, "node_modules", "inference-guard");
  // node-gyp built it (its configuration is there) from the package's sources and shipped headers.
  expect(existsSync(join(installed, "build", "config.gypi"))).toBe(true);
  expect(readFileSync(join(installed, "build", "Release", "inference_guard.node"))).not.toEqual(readFileSync(join(installed, "prebuilds", "linux-x64", "inference_guard.node")));
  const r = await run("node", ["app-check.mjs", ASSISTANT_MODEL], { cwd: dir, env: appEnv(process.env.PATH!) });
  expect(r.code).toBe(0);
  const out = JSON.parse(r.out);
  expect(out.defaults).toMatchObject({ budget: 0.5, withinBudget: true, fallback: false, finalCheckEmptied: false });
  expect(out.defaults.tokens).toBeGreaterThan(0);
}, 600_000);
