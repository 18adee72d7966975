// What an app's code meets besides the install (test/package.test.ts packs and installs): shipped
// files resolved against the package from any folder, the default model, chat messages checked
// as the server checks them, and the CLI's hint when a chat model gets a bare prompt.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseChatMessages } from "../../src/chatMessages.js";
import { loadCostModel } from "../../src/cost/load.js";
import { SHIPPED_COST_MODELS } from "../../src/cost/defaults.js";
import { createGuard } from "../../src/createGuard.js";
import { UserError } from "../../src/errors.js";
import { MODEL_ENV, PACKAGE_ROOT, SHARED_DIR, SHIPPED_FILES, defaultModelPath, prebuiltAddonPath, shippedFile } from "../../src/paths.js";
import { cli } from "../helpers/cli.js";
import { STORIES_MODEL, TINY_RANDOM_MODEL } from "../helpers/models.js";

const ASSISTANT_MODEL = join(PACKAGE_ROOT, "models", "testbed", "tiny-assistant.gguf");
const elsewhere = mkdtempSync(join(tmpdir(), "inference-guard-app-"));
afterAll(() => rmSync(elsewhere, { recursive: true, force: true }));

describe("shipped files", () => {
  test("are named by their bare name or their path in the package, resolved against the package", () => {
    expect(shippedFile("harm-classifier.bin")).toBe(join(PACKAGE_ROOT, "models", "harm-classifier.bin"));
    expect(shippedFile("models/harm-classifier.bin")).toBe(SHIPPED_FILES["harm-classifier.bin"]);
    expect(shippedFile("./models/conflict-lexicon.json")).toBe(SHIPPED_FILES["conflict-lexicon.json"]);
    expect(shippedFile("other.bin")).toBeUndefined();
    expect(shippedFile("/models/harm-classifier.bin")).toBeUndefined();
  });

  test("a spec naming a shipped cost model loads from any folder; a file of the app's own wins", async () => {
    const classifier = await loadCostModel(SHIPPED_COST_MODELS.harmClassifier, { baseDir: elsewhere });
    expect(classifier.name).toBe(`classifier:${SHIPPED_FILES["harm-classifier.bin"]}`);
    await classifier.dispose?.();
    const rules = await loadCostModel("rules:models/conflict-lexicon.json", { baseDir: elsewhere });
    expect(rules.cost("he hit the ball")).toBeGreaterThan(0);
    writeFileSync(join(elsewhere, "conflict-lexicon.json"), JSON.stringify({ terms: { ball: 1 } }));
    const own = await loadCostModel(SHIPPED_COST_MODELS.conflictLexicon, { baseDir: elsewhere });
    expect(own.cost("he hit the ball")).toBe(1);
    expect(own.cost("he hit the cat")).toBe(0);
    await expect(loadCostModel("classifier:missing.bin", { baseDir: elsewhere })).rejects.toThrow(join(elsewhere, "missing.bin"));
  });

  test("the prebuilt addon's path names this platform as native/prebuilds.mjs does", async () => {
    const { prebuildTag } = (await import(join(PACKAGE_ROOT, "native", "prebuilds.mjs"))) as { prebuildTag(): string };
    expect(prebuiltAddonPath()).toBe(join(PACKAGE_ROOT, "prebuilds", prebuildTag(), "inference_guard.node"));
  });

  test("the default model is $INFERENCE_GUARD_MODEL, else the one the package ships, else the shared one", () => {
    const saved = process.env[MODEL_ENV];
    try {
      process.env[MODEL_ENV] = "/models/mine.gguf";
      expect(defaultModelPath()).toBe("/models/mine.gguf");
      delete process.env[MODEL_ENV];
      expect([SHIPPED_FILES["stories260K.gguf"], join(SHARED_DIR, "models", "stories260K.gguf")]).toContain(defaultModelPath());
    } finally {
      if (saved === undefined) delete process.env[MODEL_ENV];
      else process.env[MODEL_ENV] = saved;
    }
  });
});

describe("chat messages", () => {
  test("OpenAI's shapes are read as the server reads them", () => {
    expect(
      parseChatMessages([
        { role: "developer", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "Hello, " }, { type: "text", text: "there" }] },
        { role: "assistant", content: null, refusal: null },
      ]),
    ).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hello, there" },
      { role: "assistant", content: "" },
    ]);
  });

  test.each([
    [[{ role: "tool", content: "42", tool_call_id: "a" }], /messages\.0\.role: tool messages are not supported/],
    [[{ role: "user", content: "hi" }, { role: "user" }], /messages\.1\.content: expected a string or a list of \{type: "text", text\} parts/],
    [[{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }], /content parts of type "image_url" are not supported/],
    [[{ role: "user", content: { text: "hi" } }], /messages\.0\.content/],
    [[], /give at least one message/],
    [{ role: "user", content: "hi" }, /must be an array/],
  ])("%j is refused", (messages, why) => {
    expect(() => parseChatMessages(messages)).toThrow(UserError);
    expect(() => parseChatMessages(messages)).toThrow(why);
  });

  test("guard.generate refuses them before the chat template sees them, and reads text parts as text", async () => {
    const guard = await createGuard({ model: STORIES_MODEL, cost: "rules:conflict-lexicon.json", threads: 1 });
    try {
      const bad = [{ role: "tool", content: "42" }] as never;
      await expect(guard.generate(bad, { maxTokens: 4 })).rejects.toThrow(/tool messages are not supported/);
      await expect(guard.generate(42 as never, { maxTokens: 4 })).rejects.toThrow(UserError);
      const parts = [{ role: "user", content: [{ type: "text", text: "Once upon" }, { type: "text", text: " a time" }] }] as never;
      expect(guard.countPromptTokens(parts)).toBe(guard.countPromptTokens([{ role: "user", content: "Once upon a time" }]));
    } finally {
      await guard.dispose();
    }
  });
});

describe("generate on a chat model without --chat", () => {
  test("the engine reads a GGUF's chat template from its metadata (what decides the hint)", async () => {
    for (const [model, expected] of [[ASSISTANT_MODEL, true], [STORIES_MODEL, false], [TINY_RANDOM_MODEL, false]] as const) {
      const guard = await createGuard({ model, cost: "rules:conflict-lexicon.json", threads: 1 });
      try {
        expect([model, guard.engine.info.chatTemplate]).toEqual([model, expected]);
      } finally {
        await guard.dispose();
      }
    }
  });

  test("an empty answer says the model has a chat template and --chat renders it", async () => {
    const r = await cli("generate", "--prompt", "How do I bake bread?", "--model", ASSISTANT_MODEL, "--json", "--max-tokens", "16", "--seed", "1");
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result.text).toBe("");
    expect(result.warning).toMatch(/this model has a chat template: --chat renders the prompt with it/);
    expect(r.err).toMatch(/warning: the answer is empty; this model has a chat template/);
  });

  test("with --chat, or on a model without a template, nothing is said", async () => {
    const chat = await cli("generate", "--prompt", "How do I bake bread?", "--model", ASSISTANT_MODEL, "--chat", "--json", "--max-tokens", "16", "--seed", "1");
    expect(chat.code).toBe(0);
    expect(chat.err).not.toMatch(/chat template/);
    const story = await cli("generate", "--prompt", "Once upon a time", "--model", STORIES_MODEL, "--json", "--max-tokens", "8", "--seed", "1");
    expect(story.err).toBe("");
  });
});
