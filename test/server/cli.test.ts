// `inference-guard serve` flags: help, and one clear line for every mistake.
import { createServer } from "node:net";
import { STORIES_MODEL } from "../helpers/models.js";
import { cli } from "../helpers/cli.js";

test("the command list and --help explain the server and each flag", async () => {
  expect((await cli("--help")).out).toMatch(/serve .*OpenAI-compatible/);
  const help = await cli("serve", "--help");
  expect(help.code).toBe(0);
  for (const flag of ["--host", "--port", "--api-key", "--max-queue", "--body-limit", "--shutdown-grace", "--model", "--model-name", "--cost", "--cost-model", "--critic", "--budget", "--beams", "--samples", "--width", "--max-tokens", "--quiet", "--allow-client-override", "--allow-client-methods", "--allow-client-trace", "--allow-client-trace-unsafe-text", "--audit-trace-dir", "--allow-host", "--allow-origin"]) {
    expect(help.out).toContain(flag);
  }
  expect(help.out).toMatch(/default 127\.0\.0\.1/);
});

test("the trust-boundary flags reach the server: /health shows what was opened", async () => {
  const { spawn } = await import("node:child_process");
  const { join } = await import("node:path");
  const { PACKAGE_ROOT } = await import("../../src/paths.js");
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, "bin", "inference-guard.js"), "serve", "--model", STORIES_MODEL, "--threads", "1", "--port", "0", "--quiet",
    "--allow-client-override", "budget,max-tokens", "--allow-client-override", "beams", "--allow-client-methods", "greedy", "--allow-client-trace",
    "--allow-host", "gpu-box.lan,evil.example:8080", "--allow-origin", "http://localhost:3000", "--budget", "0.8"], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d) => {
        out += d;
        const m = /at (http:\/\/\S+)\/v1 /.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const health = (await (await fetch(`${url}/health`)).json()) as any;
    expect(health.clients).toMatchObject({
      maxBudget: { default: null, assistant: null }, maxTokens: null, minBeams: null, minSamples: 8,
      overrides: ["budget", "max-tokens", "beams"], methods: ["guard", "greedy"], trace: "redacted", auditTrace: false,
      hosts: ["loopback", "gpu-box.lan", "evil.example:8080"], origins: ["http://localhost:3000"],
    });
  } finally {
    child.kill("SIGTERM");
  }
});

describe("mistakes give one clear line and exit 2", () => {
  test.each([
    [["serve", "--port", "abc"], /--port expects an integer, got "abc"/],
    [["serve", "--port", "70000"], /invalid server settings: port: Too big/],
    [["serve", "--max-queue=-1"], /invalid server settings: maxQueue: Too small/],
    [["serve", "--body-limit", "10"], /invalid server settings: bodyLimit/],
    [["serve", "--cost-model", "strict"], /--cost-model expects NAME=SPEC/],
    [["serve", "--cost-model", "default=rules:x.json"], /reserved/],
    [["serve", "--cost-model", "strict=rules:/nope/strict.json"], /\/nope\/strict\.json/],
    [["serve", "--model", "/nope/model.gguf"], /model file not found: \/nope\/model\.gguf/],
    [["serve", "--gpu", "tpu"], /--gpu must be one of/],
    [["serve", "extra"], /unexpected argument "extra"/],
    [["serve", "--allow-origin", "*", "--api-key", "k"], /^inference-guard: --allow-origin "\*" cannot be used with an API key: any web page could use the key; list the origins instead\n?$/],
    [["serve", "--allow-origin", "http://a.example/app"], /"http:\/\/a\.example\/app" is not an origin/],
    [["serve", "--allow-client-override", "budget,temperature"], /invalid server settings: allowClientOverride\.1: .*"budget"/],
    [["serve", "--allow-client-methods", "beam"], /invalid server settings: allowClientMethods/],
    [["serve", "--allow-host", "bad host"], /a host is a name or address/],
  ])("%j", async (argv, message) => {
    const r = await cli(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  test("a port already in use", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await cli("serve", "--model", STORIES_MODEL, "--threads", "1", "--port", String(port), "--quiet");
      expect(r.code).toBe(2);
      expect(r.err).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use`));
    } finally {
      blocker.close();
    }
  });
});
