// Guarded chat on the real assistant (SmolLM2-135M-Instruct) through every surface a user has:
// the library (createGuard), the CLI (`generate --chat`, spawned through bin/ as a user runs it),
// the HTTP server (the stock `openai` client, streamed and whole) and batch, at the chat defaults
// as they stand (cost model, budget, reward, search). Every answer to a held-out harmless request
// must be non-empty and kept within budget by the search itself: withinBudget alone cannot fail
// (the final check empties an answer over budget and sets fallback), so each answer also needs
// fallback false, no final-check intervention and text. Assertions are about the guarantee and
// the shape, never about the words (other work changes the chat cost model and reward).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { createGuard } from "../../src/createGuard.js";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { createGuardServer, type GuardServer } from "../../src/server/index.js";
import { cli } from "../helpers/cli.js";
import { expectSearchWithinBudget } from "../helpers/models.js";
import { SMOLLM2_NAME, smollm2Path } from "../helpers/smollm2.js";

smollm2Path(); // fails the file with the fetch line when the model is missing
const MAX_TOKENS = 24;
const dir = mkdtempSync(join(tmpdir(), "ig-smollm2-chat-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Held-out harmless requests (never in the training data: models/README.md), in file order. */
const HARMLESS: string[] = readFileSync(join(PACKAGE_ROOT, "models", "testbed", "assistant-harmless.test.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => (JSON.parse(l) as { prompt: string }).prompt);
/** Each surface answers its own slice, so the 40 answers are 40 different requests. */
const take = (() => {
  let next = 0;
  return (n: number) => HARMLESS.slice(next, (next += n));
})();

let answers = 0;
/** What every surface reports, reduced to the fields the guarantee is about. */
interface Answer {
  text: string;
  withinBudget: boolean;
  fallback: boolean;
  finalCheckEmptied?: boolean;
  tokens: number;
  cost: number;
  budget: number | null;
}
function expectGuardedAnswer(a: Answer): void {
  expectSearchWithinBudget(a);
  expect(a.fallback).toBe(false);
  expect(a.text.trim()).not.toBe("");
  expect(a.tokens).toBeGreaterThan(0);
  expect(a.tokens).toBeLessThanOrEqual(MAX_TOKENS);
  expect(a.budget).not.toBeNull();
  expect(a.cost).toBeLessThanOrEqual(a.budget!);
  answers++;
}

test("library: createGuard by the model's name, chat messages, parallel generations", async () => {
  const guard = await createGuard({ model: SMOLLM2_NAME, parallel: 4, defaults: { maxTokens: MAX_TOKENS } });
  try {
    expect(guard.engine.info.chatTemplate).toBe(true);
    const prompts = take(12);
    const results = await Promise.all(
      prompts.map((p, i) => guard.generate(i % 3 === 0 ? [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: p }] : [{ role: "user", content: p }], { seed: 100 + i })),
    );
    results.forEach((r) => {
      expect(r.method).toBe("guard");
      expectGuardedAnswer(r);
    });
  } finally {
    await guard.dispose();
  }
});

/** `inference-guard generate --chat ... --json` as a user runs it (bin/, the built dist/). */
function spawnGenerate(prompt: string, seed: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(PACKAGE_ROOT, "bin", "inference-guard.js"), "generate", "--chat", "--model", SMOLLM2_NAME, "--prompt", prompt, "--max-tokens", String(MAX_TOKENS), "--seed", String(seed), "--json"],
      { cwd: dir, env: process.env, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

test("CLI: generate --chat --model smollm2-135m-instruct, spawned as a user runs it", async () => {
  const prompts = take(4);
  for (let i = 0; i < prompts.length; i += 2) {
    const runs = await Promise.all(prompts.slice(i, i + 2).map((p, j) => spawnGenerate(p, 200 + i + j)));
    for (const run of runs) {
      expect({ code: run.code, err: run.err.includes("Error") ? run.err : "" }).toEqual({ code: 0, err: "" });
      const lines = run.out.trim().split("\n");
      expect(lines).toHaveLength(1); // one JSON object, nothing else on stdout
      const summary = JSON.parse(lines[0]!);
      expect(summary).not.toHaveProperty("trace");
      expectGuardedAnswer(summary);
    }
  }
});

describe("server: the stock openai client", () => {
  let server: GuardServer;
  let client: OpenAI;
  beforeAll(async () => {
    server = await createGuardServer({ model: SMOLLM2_NAME, port: 0, parallel: 4, defaults: { maxTokens: MAX_TOKENS } });
    client = new OpenAI({ baseURL: `${await server.listen()}/v1`, apiKey: "unused", maxRetries: 0, timeout: 120_000 });
  });
  afterAll(async () => server?.close({ graceSeconds: 0 }));

  /** The served model's id, as a client would look it up. */
  const modelId = async () => (await client.models.list()).data[0]!.id;

  test("whole answers", async () => {
    const model = await modelId();
    const prompts = take(6);
    const completions = await Promise.all(
      prompts.map((p, i) => client.chat.completions.create({ model, messages: [{ role: "user", content: p }], max_tokens: MAX_TOKENS, seed: 300 + i })),
    );
    for (const c of completions) {
      const choice = c.choices[0]!;
      expect(choice.message.role).toBe("assistant");
      expect(choice.finish_reason).not.toBe("content_filter"); // what a fallback is reported as
      const guard = (c as unknown as { guard: Answer & { method: string } }).guard;
      expect(guard.method).toBe("guard");
      expectGuardedAnswer({ ...guard, text: choice.message.content ?? "", tokens: c.usage!.completion_tokens });
    }
  });

  test("streamed answers: the deltas make the answer, the summary rides on the last chunk", async () => {
    const model = await modelId();
    const prompts = take(6);
    await Promise.all(
      prompts.map(async (p, i) => {
        const stream = await client.chat.completions.create({
          model,
          messages: [{ role: "user", content: p }],
          max_tokens: MAX_TOKENS,
          seed: 400 + i,
          stream: true,
          stream_options: { include_usage: true },
        });
        let text = "";
        let guard: (Answer & { method: string }) | undefined;
        let usage: OpenAI.CompletionUsage | undefined;
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta?.content ?? "";
          usage = chunk.usage ?? usage;
          guard = (chunk as unknown as { guard?: Answer & { method: string } }).guard ?? guard;
        }
        expect(guard).toBeDefined();
        expectGuardedAnswer({ ...guard!, text, tokens: usage!.completion_tokens });
      }),
    );
  });
});

test("batch: chat rows by the model's name, every row answered within budget", async () => {
  const prompts = take(12);
  const input = join(dir, "chat.jsonl");
  const output = join(dir, "chat-results.jsonl");
  writeFileSync(input, prompts.map((p, i) => JSON.stringify({ id: `h${i}`, messages: [{ role: "user", content: p }] })).join("\n") + "\n");
  const run = await cli("batch", "--in", input, "--out", output, "--model", SMOLLM2_NAME, "--max-tokens", String(MAX_TOKENS), "--seed", "5");
  expect(run.err).toMatch(/12 written, 0 already done, 0 skipped/);
  expect(run.code).toBe(0);
  const rows = readFileSync(output, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(rows.map((r) => r.id).sort()).toEqual(prompts.map((_, i) => `h${i}`).sort());
  for (const row of rows) {
    expect(row.method).toBe("guard");
    expectGuardedAnswer(row);
  }
});

test("at least 40 guarded answers across the surfaces, to 40 different held-out requests", () => {
  expect(answers).toBeGreaterThanOrEqual(40);
  expect(new Set(HARMLESS.slice(0, answers)).size).toBe(answers);
});
