// Evaluation settings and prompt files: config file + flags, path resolution, every mistake as one UserError.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ASSISTANT_COST_DEFAULT } from "../../src/cost/defaults.js";
import { UserError } from "../../src/errors.js";
import { evalConfigSchema, resolveEvalSettings } from "../../src/eval/config.js";
import { readEvalPrompts } from "../../src/eval/prompts.js";
import { PACKAGE_ROOT, SHARED_DIR } from "../../src/paths.js";
import { readFileSync } from "node:fs";

const dir = mkdtempSync(join(tmpdir(), "inference-guard-eval-config-"));
const write = (name: string, content: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
};

describe("settings", () => {
  test("a config file's relative paths resolve against its folder; flags override it", () => {
    mkdirSync(join(dir, "cfg"), { recursive: true });
    const config = write("cfg/eval.json", {
      version: 1, model: "../m.gguf", prompts: "p.jsonl", critic: "c.bin", cost: "rules:lex.json",
      budget: 0.5, seeds: [1, 2], methods: ["greedy", { method: "bon", n: 4 }],
    });
    const s = resolveEvalSettings(config, {}, "/elsewhere");
    expect(s).toMatchObject({
      model: join(dir, "m.gguf"), prompts: join(dir, "cfg", "p.jsonl"), critic: join(dir, "cfg", "c.bin"),
      cost: "rules:lex.json", costBaseDir: join(dir, "cfg"), budget: 0.5, seeds: [1, 2], maxTokens: 100, scanWidth: 8, chat: false,
    });
    expect(s.methods.map((m) => m.name)).toEqual(["greedy", "bon:n=4"]);
    const flagged = resolveEvalSettings(config, { budget: 2, prompts: "q.jsonl", methods: "sample", cost: "rules:x.json" }, "/work");
    expect(flagged).toMatchObject({ budget: 2, prompts: "/work/q.jsonl", costBaseDir: "/work" });
    expect(flagged.methods.map((m) => m.name)).toEqual(["sample"]);
  });

  test("flags alone work; defaults fill the rest", () => {
    const s = resolveEvalSettings(undefined, { prompts: "p.jsonl", methods: "greedy,guard" }, "/w");
    expect(s).toMatchObject({ prompts: "/w/p.jsonl", budget: 1, seeds: [1], maxTokens: 100, gpu: "cpu" });
    expect(s.cost).toMatch(/^rules:.*conflict-lexicon\.json$/);
  });

  test("chat prompts default to the assistant cost model and its budget; a named cost model keeps budget 1", () => {
    const chat = resolveEvalSettings(undefined, { prompts: "p.jsonl", methods: "guard", chat: true }, "/w");
    expect(chat.cost).toBe(ASSISTANT_COST_DEFAULT.spec);
    expect(chat.cost).toMatch(/^harm:.*chat-harm\.json$/);
    expect(chat.budget).toBe(ASSISTANT_COST_DEFAULT.budget);
    expect(resolveEvalSettings(undefined, { prompts: "p.jsonl", methods: "guard", chat: true, budget: 0.2 }, "/w").budget).toBe(0.2);
    const named = resolveEvalSettings(undefined, { prompts: "p.jsonl", methods: "guard", chat: true, cost: "rules:x.json" }, "/w");
    expect(named).toMatchObject({ cost: "rules:x.json", budget: 1 });
  });

  test.each([
    [undefined, { methods: "greedy" }, /--prompts FILE is required/],
    [undefined, { prompts: "p.jsonl" }, /--methods is required/],
    [undefined, { prompts: "p.jsonl", methods: "greedy", budget: 0 }, /budget/],
    [undefined, { prompts: "p.jsonl", methods: "greedy", seeds: [1, 1] }, /seeds must be distinct/],
    [undefined, { prompts: "p.jsonl", methods: "bon:n=99" }, /bon:n=99/],
    ["missing.json", {}, /config file not found/],
    ["bad.json", {}, /not valid JSON/],
    ["v2.json", {}, /version/],
    ["extra.json", {}, /unrecognized|surprise/i],
    ["nomethods.json", {}, /methods/],
  ])("config %s with flags %j is refused", (config, flags, message) => {
    write("bad.json", "{ nope");
    write("v2.json", { version: 2, prompts: "p.jsonl", methods: ["greedy"] });
    write("extra.json", { version: 1, prompts: "p.jsonl", methods: ["greedy"], surprise: 1 });
    write("nomethods.json", { version: 1, prompts: "p.jsonl", methods: [] });
    const run = () => resolveEvalSettings(config === undefined ? undefined : join(dir, config), flags as never, dir);
    expect(run).toThrow(UserError);
    expect(run).toThrow(message);
  });

  test("the shipped testbed config is valid and points at the project's files", () => {
    const path = join(PACKAGE_ROOT, "models", "testbed", "eval-stories.json");
    expect(evalConfigSchema.safeParse(JSON.parse(readFileSync(path, "utf8"))).success).toBe(true);
    const s = resolveEvalSettings(path, {});
    expect(s.model).toBe(join(SHARED_DIR, "models", "stories260K.gguf"));
    expect(s.prompts).toBe(join(PACKAGE_ROOT, "models", "testbed", "story-openings.test.jsonl"));
    expect(s.critic).toBe(join(PACKAGE_ROOT, "models", "stories260K-critic.bin"));
    expect(s.limit).toBeGreaterThanOrEqual(100);
    expect(s.methods.map((m) => m.kind)).toEqual(["greedy", "sample", "bon", "bon-lagrangian", "bon-safe", "beam", "beam-safe", "args", "guard", "guard-critic", "guard-critic"]);
  });

  test.each([
    ["eval-assistant-harmful.json", "logprob"],
    ["eval-assistant-harmless.json", "logprob"],
    ["eval-assistant-reward-harmful.json", "head:../tiny-assistant-reward.json"],
    ["eval-assistant-reward-harmless.json", "head:../tiny-assistant-reward.json"],
  ])("the tiny assistant's history config %s pins what its table used, not today's chat defaults", (name, reward) => {
    const folder = join(PACKAGE_ROOT, "models", "testbed");
    const s = resolveEvalSettings(join(folder, name), {});
    expect(s).toMatchObject({ chat: true, cost: "classifier:../harm-classifier.bin", costBaseDir: folder, budget: 0.5, reward, rewardIsDefault: false, rewardBaseDir: folder });
    expect(s.cost).not.toBe(ASSISTANT_COST_DEFAULT.spec);
    for (const spec of [s.cost, s.reward]) {
      const file = spec.replace(/^(classifier|head):/, "");
      if (file !== "logprob") expect([file, existsSync(join(folder, file))]).toEqual([file, true]);
    }
  });
});

describe("prompt files", () => {
  test("JSON Lines with prompts, conversations and labels", () => {
    const path = write("p.jsonl", [
      JSON.stringify({ prompt: "Once upon a time", label: "harmless" }),
      "",
      JSON.stringify({ messages: [{ role: "user", content: "Hi" }] }),
      JSON.stringify({ prompt: "Tell me", id: 7 }),
    ].join("\n"));
    const prompts = readEvalPrompts(path);
    expect(prompts.map((p) => [p.index, p.text, p.label])).toEqual([[0, "Once upon a time", "harmless"], [1, undefined, undefined], [2, "Tell me", undefined]]);
    expect(prompts[1].messages).toEqual([{ role: "user", content: "Hi" }]);
    expect(new Set(prompts.map((p) => p.hash)).size).toBe(3);
    expect(readEvalPrompts(path, { limit: 2, label: "harmful" }).map((p) => p.label)).toEqual(["harmful", "harmful"]);
  });

  test("the shared safety prompt files: a category marks a harmful request", () => {
    const harmful = readEvalPrompts(join(SHARED_DIR, "data", "safety", "prompts", "harmful_val.json"), { limit: 5 });
    expect(harmful).toHaveLength(5);
    expect(harmful.every((p) => p.label === "harmful" && typeof p.text === "string")).toBe(true);
    const harmless = readEvalPrompts(join(SHARED_DIR, "data", "safety", "prompts", "harmless_val.json"), { limit: 3 });
    expect(harmless.every((p) => p.label === "harmless")).toBe(true);
  });

  test.each([
    ["missing.jsonl", null, /prompts file not found/],
    ["empty.jsonl", "\n\n", /has no prompts/],
    ["broken.jsonl", '{"prompt": "a"}\n{oops', /broken\.jsonl:2: not valid JSON/],
    ["wrong.jsonl", '{"text": "a"}', /wrong\.jsonl:1: expected/],
    ["badlabel.jsonl", '{"prompt": "a", "label": "evil"}', /badlabel\.jsonl:1/],
    ["broken.json", "[{]", /not valid JSON/],
  ])("%s is refused with a UserError", (name, content, message) => {
    const path = content === null ? join(dir, name) : write(name, content);
    expect(() => readEvalPrompts(path)).toThrow(UserError);
    expect(() => readEvalPrompts(path)).toThrow(message);
  });
});
