// Contract with node-llama-cpp internals: these fail loudly when an upgrade changes what the
// adapter (src/engine/nodeLlamaInternals.ts) and the addon rely on.
import { getModuleVersion } from "node-llama-cpp";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "../../src/engine/engine.js";
import { PINNED_NODE_LLAMA_CPP_VERSION, nodeLlamaCppMismatch } from "../../src/engine/nodeLlamaInternals.js";
import { nativeAddon } from "../../src/native.js";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { BOTH_MODELS } from "../helpers/models.js";

test("node-llama-cpp is the pinned version, pinned exactly in package.json", async () => {
  expect(await getModuleVersion()).toBe(PINNED_NODE_LLAMA_CPP_VERSION);
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8"));
  expect(pkg.dependencies["node-llama-cpp"]).toBe(PINNED_NODE_LLAMA_CPP_VERSION);
});

test("the addon was compiled against the installed node-llama-cpp's private headers", async () => {
  expect(nativeAddon().NODE_LLAMA_CPP_BUILD_VERSION).toBe(await getModuleVersion());
});

describe("a node-llama-cpp the package was not made for is one line that says what to do", () => {
  const pinned = PINNED_NODE_LLAMA_CPP_VERSION;
  test.each([
    [{ installed: pinned, built: pinned, allowOtherVersion: false }, undefined],
    [{ installed: "9.9.9", built: "9.9.9", allowOtherVersion: false }, /reads node-llama-cpp .* internals, but 9\.9\.9 is installed: reinstall with `npm ci`/],
    [{ installed: "9.9.9", built: "9.9.9", allowOtherVersion: true }, undefined],
    [{ installed: "9.9.9", built: pinned, allowOtherVersion: true }, /addon was built against node-llama-cpp .* but 9\.9\.9 is installed: rebuild it with `npm run build:native`/],
    [{ installed: pinned, built: undefined, allowOtherVersion: false }, /built against node-llama-cpp \(unknown: an older build\)/],
  ])("%p", (versions, expected) => {
    const problem = nodeLlamaCppMismatch(versions);
    if (expected === undefined) expect(problem).toBeUndefined();
    else {
      expect(problem).toMatch(expected);
      expect(problem).not.toContain("\n");
    }
  });
});

describe.each(BOTH_MODELS)("%s", (_name, modelPath) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load({ modelPath, maxSequences: 8, contextSize: 1024, batchSize: 64 });
  });
  afterAll(async () => engine?.dispose());

  test("our context reads the model node-llama-cpp loaded (sizes agree)", () => {
    expect(engine.info.nEmbd).toBe(engine.model.embeddingVectorSize);
    expect(engine.info.trainContextSize).toBe(engine.model.trainContextSize);
    const vocab = (engine.model.fileInfo.metadata as unknown as { tokenizer: { ggml: { tokens: readonly string[] } } }).tokenizer.ggml.tokens.length;
    expect(engine.info.nVocab).toBe(vocab);
    expect(engine.info.maxSequences).toBe(8);
    expect(engine.info.contextSize).toBeGreaterThanOrEqual(1024);
  });

  test("the greedy token is the argmax of the row's logits", () => {
    const prompt = engine.completionPrompt("Once upon a time");
    engine.clear();
    const row = engine.prefill(0, prompt);
    const logits = engine.logits(row);
    let argmax = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[argmax]) argmax = i;
    const { tokens, logProbs } = engine.sample(Int32Array.of(row), { temperature: 0, topK: 0, topP: 1 }, 1n);
    expect(tokens[0]).toBe(argmax);
    expect(logProbs[0]).toBeLessThanOrEqual(0);
  });

  test("a row the last decode did not output is refused", () => {
    engine.clear();
    const prompt = engine.completionPrompt("Once upon a time there was");
    engine.prefill(0, prompt);
    expect(() => engine.hidden(Int32Array.of(0))).toThrow(/no output/);
  });
});
