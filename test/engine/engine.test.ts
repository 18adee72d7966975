// Loading a model file: a missing, foreign or cut-short file is one clear UserError naming the cause.
import { jest } from "@jest/globals";
import { LlamaModel } from "node-llama-cpp";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../src/engine/engine.js";
import { ModelFileNotFoundError, UserError } from "../../src/errors.js";
import { STORIES_MODEL } from "../helpers/models.js";

const dir = mkdtempSync(join(tmpdir(), "inference-guard-engine-"));
const whole = readFileSync(STORIES_MODEL);

async function loadError(path: string): Promise<Error> {
  try {
    const engine = await Engine.load({ modelPath: path });
    await engine.dispose();
  } catch (error) {
    return error as Error;
  }
  throw new Error(`${path} loaded`);
}

test("a missing file: ModelFileNotFoundError, with no CLI flag in a library message", async () => {
  const error = await loadError(join(dir, "none.gguf"));
  expect(error).toBeInstanceOf(ModelFileNotFoundError);
  expect(error.message).toBe(`model file not found: ${join(dir, "none.gguf")}`);
});

test.each([
  ["1 KB", 1024],
  ["half", Math.floor(whole.length / 2)],
  ["all but the last byte", whole.length - 1],
])("a GGUF cut short (%s) says it is incomplete, before llama.cpp sees it", async (_name, bytes) => {
  const path = join(dir, `cut-${bytes}.gguf`);
  writeFileSync(path, whole.subarray(0, bytes));
  const error = await loadError(path);
  expect(error).toBeInstanceOf(UserError);
  const match = new RegExp(`the model file is incomplete \\(truncated\\): .*cut-${bytes}\\.gguf has ${bytes} bytes but its tensors need (\\d+)`).exec(error.message);
  expect(match).not.toBeNull();
  // Past the header, the tensors' extent is the whole file's length.
  if (bytes > 100_000) expect(Number(match![1])).toBe(whole.length);
});

describe("context sizes", () => {
  test.each([1, 10, 32, 100])("a context of %i cells loads (llama.cpp is never asked for fewer cells than sequences) and keeps to its size", async (cells) => {
    const engine = await Engine.load({ modelPath: STORIES_MODEL, contextSize: cells });
    try {
      expect(engine.info.contextSize).toBe(cells); // errors report what was asked, not llama.cpp's rounded 256
      const prompt = engine.completionPrompt("Once upon a time there was");
      if (prompt.length > cells) expect(() => engine.prefill(0, prompt)).toThrow(new RegExp(`the prompt has ${prompt.length} tokens but the context holds ${cells}$`));
      else engine.prefill(0, prompt);
    } finally {
      await engine.dispose();
    }
  });

  test.each([[0], [-5], [2.5], [2 ** 25]])("contextSize %p is a UserError before the model loads", async (cells) => {
    await expect(Engine.load({ modelPath: STORIES_MODEL, contextSize: cells })).rejects.toThrow(UserError);
    await expect(Engine.load({ modelPath: STORIES_MODEL, contextSize: cells })).rejects.toThrow(/contextSize must be/);
  });

  test("a context size may be chosen from the loaded model's facts", async () => {
    let facts: { trainContextSize: number; kvBytesPerCell: number } | undefined;
    const engine = await Engine.load({ modelPath: STORIES_MODEL, contextSize: (m) => ((facts = m), 3000) });
    try {
      // stories260K: 2,048 trained positions; 5 layers x 4 KV heads x (8 + 8) dims x 2 bytes (f16).
      expect(facts).toEqual({ trainContextSize: 2048, kvBytesPerCell: 640 });
      expect(engine.info.contextSize).toBe(3000);
    } finally {
      await engine.dispose();
    }
  });
});

describe("bad options never leak a model", () => {
  test.each([
    [{ maxSequences: 0 }, /maxSequences must be a positive integer/],
    [{ maxSequences: 300 }, /maxSequences must be at most 256/],
    [{ maxSequences: 64, batchSize: 32 }, /batchSize \(32\) must be at least maxSequences \(64\)/],
    [{ threads: 0 }, /threads must be a positive integer/],
    [{ contextSize: -1 }, /contextSize must be a positive integer/],
  ])("%p is refused before the model file is even read", async (options, message) => {
    // A model path that does not exist: the options' error, not "not found", shows they come first.
    const error = await loadOptionsError({ modelPath: join(dir, "never-read.gguf"), ...options });
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(message);
  });

  test("a context size the loaded model's facts make invalid disposes the model it loaded", async () => {
    const dispose = jest.spyOn(LlamaModel.prototype, "dispose");
    try {
      const error = await loadOptionsError({ modelPath: STORIES_MODEL, contextSize: () => 0 });
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toMatch(/contextSize must be a positive integer \(got 0\)/);
      expect(dispose).toHaveBeenCalledTimes(1);
    } finally {
      dispose.mockRestore();
    }
  });
});

async function loadOptionsError(options: Parameters<typeof Engine.load>[0]): Promise<Error> {
  try {
    const engine = await Engine.load(options);
    await engine.dispose();
  } catch (error) {
    return error as Error;
  }
  throw new Error("loaded");
}
