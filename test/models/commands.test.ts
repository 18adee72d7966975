// `--model smollm2-135m-instruct` (and $INFERENCE_GUARD_MODEL=NAME, an eval config's "model",
// createGuard({model: NAME})) reach every command that loads a model: with the model not fetched,
// each says how to fetch it in one line; with it "fetched" into a fake models folder, each goes on to
// load that folder's file. The fake is a sparse file of the pinned size whose verification memo is
// in place, so no 100 MB is hashed or loaded: the engine stops at it with "not a GGUF model file".
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGuard } from "../../src/createGuard.js";
import { MODELS_DIR_ENV, knownModel } from "../../src/models/index.js";
import { MODEL_ENV, PACKAGE_ROOT, SHIPPED_FILES } from "../../src/paths.js";
import { cli } from "../helpers/cli.js";
import { fakeFetchedModel } from "../helpers/fakeFetchedModel.js";
import { STORIES_MODEL } from "../helpers/models.js";

const NAME = "smollm2-135m-instruct";
const MODEL = knownModel(NAME)!;
const FETCH_LINE = `not fetched yet: run \`npx inference-guard models fetch ${NAME}\``;

const work = mkdtempSync(join(tmpdir(), "ig-model-names-"));
const emptyDir = join(work, "empty");
const fakeDir = join(work, "fake");
mkdirSync(emptyDir);
const fakePath = fakeFetchedModel(MODEL, fakeDir);

const prompts = join(work, "prompts.jsonl");
writeFileSync(prompts, '{"prompt": "Hello"}\n');
const input = join(work, "in.jsonl");
writeFileSync(input, '{"id": "a", "prompt": "Hello"}\n');
const evalConfig = join(work, "eval.json");
writeFileSync(evalConfig, JSON.stringify({ version: 1, model: NAME, prompts, methods: ["greedy"] }));
const probeData = join(work, "probe.jsonl");
writeFileSync(probeData, Array.from({ length: 12 }, (_, i) => JSON.stringify({ text: `text ${i}`, label: i % 2 })).join("\n") + "\n");
const LEXICON = `rules:${join(PACKAGE_ROOT, "models", "conflict-lexicon.json")}`;

/** Each command with --model NAME and what else it needs to get as far as loading the model. */
const COMMANDS: [string, string[]][] = [
  ["generate", ["generate", "--prompt", "Hi", "--model", NAME]],
  ["generate --chat", ["generate", "--chat", "--prompt", "Hi", "--model", NAME]],
  ["serve", ["serve", "--model", NAME, "--port", "0"]],
  ["batch", ["batch", "--in", input, "--out", join(work, "batch-out.jsonl"), "--model", NAME]],
  ["worker", ["worker", "--queue", "q", "--redis", "redis://127.0.0.1:1", "--model", NAME]],
  ["eval", ["eval", "--prompts", prompts, "--methods", "greedy", "--out", join(work, "eval-out"), "--model", NAME]],
  ["eval --config", ["eval", "--config", evalConfig, "--out", join(work, "eval-config-out")]],
  ["train-critic", ["train-critic", "--prompts", prompts, "--out", join(work, "critic.bin"), "--cost", LEXICON, "--model", NAME]],
  ["critic-evidence", ["critic-evidence", "--critic", SHIPPED_FILES["stories260K-critic.bin"], "--prompts", prompts, "--cost", LEXICON, "--out", join(work, "evidence.md"), "--model", NAME]],
  ["train-probe", ["train-probe", "--data", probeData, "--out", join(work, "probe.json"), "--model", NAME]],
  ["train-reward", ["train-reward", "--out", join(work, "head.json"), "--model", NAME]],
];

function withEnv<T>(env: Record<string, string | undefined>, run: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  return run().finally(() => {
    for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  });
}

describe.each(COMMANDS)("%s", (_label, argv) => {
  test("not fetched: one line saying how to fetch it", async () => {
    const r = await withEnv({ [MODELS_DIR_ENV]: emptyDir, [MODEL_ENV]: undefined }, () => cli(...argv));
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toEqual([`inference-guard: model ${NAME} is ${FETCH_LINE}`]);
  });

  test("fetched: the command loads the file the name resolves to", async () => {
    const r = await withEnv({ [MODELS_DIR_ENV]: fakeDir, [MODEL_ENV]: undefined }, () => cli(...argv));
    expect(r.code).toBe(2);
    expect(r.err).toContain(fakePath);
  });
});

test("$INFERENCE_GUARD_MODEL=NAME resolves too, and a missing one says how to fetch it", async () => {
  const fetched = await withEnv({ [MODELS_DIR_ENV]: fakeDir, [MODEL_ENV]: NAME }, () => cli("generate", "--prompt", "Hi"));
  expect(fetched.err.trim()).toBe(`inference-guard: not a GGUF model file: ${fakePath}`);
  const missing = await withEnv({ [MODELS_DIR_ENV]: emptyDir, [MODEL_ENV]: NAME }, () => cli("generate", "--prompt", "Hi"));
  expect(missing.err.trim()).toBe(`inference-guard: model ${NAME} is ${FETCH_LINE}`);
});

test("a chat prompt with no model named uses the fetched chat model, else says how to fetch it", async () => {
  const fetched = await withEnv({ [MODELS_DIR_ENV]: fakeDir, [MODEL_ENV]: undefined }, () => cli("generate", "--chat", "--prompt", "Hi"));
  expect(fetched.err.trim()).toBe(`inference-guard: not a GGUF model file: ${fakePath}`);
  const missing = await withEnv({ [MODELS_DIR_ENV]: emptyDir, [MODEL_ENV]: undefined }, () => cli("generate", "--chat", "--prompt", "Hi"));
  expect(missing.err.trim()).toBe(`inference-guard: a chat prompt with no model named uses ${NAME}, which is ${FETCH_LINE}`);
  const evalChat = await withEnv({ [MODELS_DIR_ENV]: emptyDir, [MODEL_ENV]: undefined }, () => cli("eval", "--chat", "--prompts", prompts, "--methods", "greedy", "--out", join(work, "eval-chat")));
  expect(evalChat.err.trim()).toBe(`inference-guard: a chat prompt with no model named uses ${NAME}, which is ${FETCH_LINE}`);
  // train-reward is for chat models: the same default.
  const reward = await withEnv({ [MODELS_DIR_ENV]: emptyDir, [MODEL_ENV]: undefined }, () => cli("train-reward", "--out", join(work, "h.json")));
  expect(reward.err.trim()).toBe(`inference-guard: a chat prompt with no model named uses ${NAME}, which is ${FETCH_LINE}`);
});

test("a completion prompt with no model named keeps stories260K (nothing to fetch)", async () => {
  const r = await withEnv({ [MODELS_DIR_ENV]: emptyDir, [MODEL_ENV]: undefined }, () => cli("generate", "--prompt", "Once upon a time", "--max-tokens", "4", "--method", "greedy", "--json"));
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out).tokens).toBeGreaterThan(0);
});

test("createGuard({model: NAME}) resolves the name; a path passes through", async () => {
  await withEnv({ [MODELS_DIR_ENV]: fakeDir }, async () => {
    await expect(createGuard({ model: NAME })).rejects.toThrow(`not a GGUF model file: ${fakePath}`);
  });
  await withEnv({ [MODELS_DIR_ENV]: emptyDir }, async () => {
    await expect(createGuard({ model: NAME })).rejects.toThrow(`model ${NAME} is ${FETCH_LINE}`);
  });
  const guard = await createGuard({ model: STORIES_MODEL });
  expect(guard.engine.info.modelPath).toBe(STORIES_MODEL);
  await guard.dispose();
});
