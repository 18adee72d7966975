// The runtime flags generate, batch and serve share: a small --context-size is a one-line error
// that reports the size asked for (it used to abort the process in llama.cpp: GGML_ASSERT, exit 134).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { STORIES_MODEL } from "../helpers/models.js";

const BIN = join(PACKAGE_ROOT, "bin", "inference-guard.js");

test.each(["1", "10", "32", "64"])("generate --context-size %s: one line naming the context asked for, exit 2", (cells) => {
  const r = spawnSync(process.execPath, [BIN, "generate", "--prompt", "Once upon a time", "--model", STORIES_MODEL, "--context-size", cells, "--max-tokens", "20"], { encoding: "utf8" });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(new RegExp(`^inference-guard: the context has ${cells} KV cells: .*raise the context size`));
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
});

test("generate --method sample --context-size 3: the prompt does not fit, one line", () => {
  const r = spawnSync(process.execPath, [BIN, "generate", "--prompt", "Once upon a time", "--model", STORIES_MODEL, "--context-size", "3", "--method", "sample"], { encoding: "utf8" });
  expect(r.status).toBe(2);
  expect(r.stderr.trim()).toMatch(/^inference-guard: the prompt has \d+ tokens but the context holds 3/);
});

test("a small context ends the answer early and says so (stopReason context)", () => {
  const r = spawnSync(process.execPath, [BIN, "generate", "--prompt", "Once upon a time", "--model", STORIES_MODEL, "--context-size", "300", "--max-tokens", "200", "--json", "--seed", "1", "--samples", "8"], { encoding: "utf8" });
  expect(r.status).toBe(0);
  const result = JSON.parse(r.stdout);
  expect(result.stopReason).toBe("context");
  expect(result.tokens).toBeLessThan(200);
});

test.each(["0", "-4"])("--context-size %s is a one-line range error", (cells) => {
  const r = spawnSync(process.execPath, [BIN, "generate", "--prompt", "x", "--model", STORIES_MODEL, "--context-size", cells], { encoding: "utf8" });
  expect(r.status).toBe(2);
  expect(r.stderr.trim()).toBe(`inference-guard: --context-size ${cells}: Too small: expected number to be >=1`);
});

test("serve --context-size 10: requests get a 400 naming the context, the server stays up", async () => {
  const child = spawn(process.execPath, [BIN, "serve", "--model", STORIES_MODEL, "--context-size", "10", "--port", "0", "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d) => {
        out += d;
        const match = /at (http:\/\/\S+)\/v1 /.exec(out);
        if (match) resolve(match[1]!);
      });
      child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const post = () =>
      fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "stories260K", prompt: "Once upon a time", max_tokens: 8 }) });
    const r = await post();
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).error.message).toMatch(/the context has 10 KV cells/);
    expect((await fetch(`${url}/health`)).status).toBe(200); // still serving
  } finally {
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
});

// --seed is one declaration (src/settings.ts): batch's and queue push's base seed take its parser
// and range, so they refuse what generate refuses, in the same words (they had their own ">= 0" check).
test.each(["-1", "9007199254740992"])("--seed %s: batch, queue push and generate refuse it with the setting's one line", (seed) => {
  const input = join(mkdtempSync(join(tmpdir(), "ig-seed-")), "in.jsonl");
  writeFileSync(input, '{"id": 1, "prompt": "Once"}\n');
  const lines = [
    ["batch", "--in", input, "--out", `${input}.out`, "--model", STORIES_MODEL],
    ["queue", "push", "--in", input, "--redis", "redis://127.0.0.1:1", "--queue", "seedq"],
    ["generate", "--prompt", "x", "--model", STORIES_MODEL],
  ].map((args) => {
    const r = spawnSync(process.execPath, [BIN, ...args, "--seed", seed], { encoding: "utf8" });
    expect(r.status).toBe(2);
    return r.stderr.trim();
  });
  expect(lines[0]).toMatch(new RegExp(`^inference-guard: --seed ${seed}: Too (small|big)`));
  expect(new Set(lines).size).toBe(1);
});
