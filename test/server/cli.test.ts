// `inference-guard serve` flags: help, and one clear line for every mistake.
import { createServer } from "node:net";
import { STORIES_MODEL } from "../helpers/models.js";
import { cli } from "../helpers/cli.js";

test("the command list and --help explain the server and each flag", async () => {
  expect((await cli("--help")).out).toMatch(/serve .*OpenAI-compatible/);
  const help = await cli("serve", "--help");
  expect(help.code).toBe(0);
  for (const flag of ["--host", "--port", "--api-key", "--max-queue", "--body-limit", "--shutdown-grace", "--model", "--model-name", "--cost", "--cost-model", "--critic", "--budget", "--beams", "--samples", "--width", "--max-tokens", "--quiet"]) {
    expect(help.out).toContain(flag);
  }
  expect(help.out).toMatch(/default 127\.0\.0\.1/);
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
