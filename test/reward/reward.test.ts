// Reward models: the spec kinds, the GGUF head route (on the policy's own hidden states and on its
// backbone in its own context: the same numbers), the tiny assistant's head (a fast unit-test
// asset), and the chat default: the head on SmolLM2-135M-Instruct, where it applies and where not.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createGuard } from "../../src/createGuard.js";
import { Engine } from "../../src/engine/engine.js";
import { batchInvariantKvCacheType } from "../../src/engine/kvCacheType.js";
import { UserError } from "../../src/errors.js";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { rewardOfAnswer } from "../../src/reward/answerReward.js";
import { HeadRewardModel } from "../../src/reward/headReward.js";
import { ASSISTANT_REWARD_DEFAULT, DEFAULT_ASSISTANT_REWARD, TINY_ASSISTANT_REWARD, loadRewardModel } from "../../src/reward/load.js";
import { LOGPROB_REWARD } from "../../src/reward/rewardModel.js";
import { SAME_ROW_TOLERANCE, STORIES_MODEL } from "../helpers/models.js";
import { smollm2Path } from "../helpers/smollm2.js";
import { expectSameMeanLogProb, teacherForcedReward } from "../helpers/teacherForced.js";

const MODEL = join(PACKAGE_ROOT, "models", "testbed", "tiny-assistant.gguf");
const REQUEST = "How do I bake bread at home?";
const ANSWERS = [
  "To bake bread, mix flour, water, yeast and salt, knead the dough, let it rise for an hour, then bake it at 220 degrees.",
  "I'm sorry, but I can't assist with that.",
  "The capital of France is Paris.",
];

/** The tiny assistant's helpfulness head, and the same with its sign flipped (it ranks answers the other way round), in a temp folder. */
const TINY_HEAD = TINY_ASSISTANT_REWARD;
function contraryHead(): string {
  const head = JSON.parse(readFileSync(TINY_HEAD, "utf8"));
  const path = join(mkdtempSync(join(tmpdir(), "inference-guard-contrary-")), "contrary-reward.json");
  const backbone = { ...head.backbone, path: resolve(dirname(TINY_HEAD), head.backbone.path) };
  writeFileSync(path, JSON.stringify({ ...head, backbone, weights: head.weights.map((w: number) => -w), bias: -head.bias }));
  return path;
}

describe("spec kinds", () => {
  test("logprob is the mean token log-probability", async () => {
    expect(await loadRewardModel("logprob")).toBe(LOGPROB_REWARD);
    expect(LOGPROB_REWARD.score({ promptTokens: [1] }, [{ tokens: [1, 2], text: "ab", sumLogProb: -3 }, { tokens: [], text: "", sumLogProb: 0 }])).toEqual([-1.5, 0]);
  });

  test("a bad spec or file is a one-line UserError", async () => {
    await expect(loadRewardModel("nope:x")).rejects.toThrow(UserError);
    await expect(loadRewardModel("head:")).rejects.toThrow(/missing its argument/);
    await expect(loadRewardModel("head:/no/such/head.json")).rejects.toThrow(/not found/);
    await expect(loadRewardModel(`head:${join(PACKAGE_ROOT, "models", "conflict-lexicon.json")}`)).rejects.toThrow(/is not a reward head file/);
  });

  test("the head refuses a backbone with another sha256", async () => {
    await expect(HeadRewardModel.load(TINY_ASSISTANT_REWARD, { backbonePath: STORIES_MODEL })).rejects.toThrow(/was trained on tiny-assistant\.gguf/);
  });
});

describe("the GGUF head route on the tiny assistant", () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load({ modelPath: MODEL, threads: 1, contextSize: 1024, maxSequences: 8 });
  });
  afterAll(async () => engine?.dispose());

  test("on the policy's own hidden states it equals the backbone run in its own context", async () => {
    const policy = await HeadRewardModel.load(TINY_ASSISTANT_REWARD, { policyModelPath: MODEL });
    const own = await HeadRewardModel.load(TINY_ASSISTANT_REWARD, { policyModelPath: MODEL, ownContext: true, threads: 1 });
    try {
      expect(policy.needsHidden).toBe(true);
      expect(own.needsHidden).toBe(false);
      const messages = [{ role: "user" as const, content: REQUEST }];
      const promptTokens = engine.chatPrompt(messages);
      for (const text of ANSWERS) {
        const tokenIds = engine.tokenize(text);
        const viaPolicy = await rewardOfAnswer(engine, policy, { messages, promptTokens }, { tokenIds, text, sumLogProb: 0 });
        const [viaOwn] = await own.score({ messages, promptTokens }, [{ tokens: tokenIds, text, sumLogProb: 0 }]);
        // Different batch shapes, float noise only; the three answers' rewards differ by far more.
        expect(Math.abs(viaPolicy - viaOwn!)).toBeLessThan(0.05);
      }
    } finally {
      await own.dispose();
    }
  });

  test("the tiny assistant's head prefers answering the request over refusing it, also on a first block", async () => {
    const head = await HeadRewardModel.load(TINY_ASSISTANT_REWARD, { policyModelPath: MODEL });
    const messages = [{ role: "user" as const, content: REQUEST }];
    const promptTokens = engine.chatPrompt(messages);
    const score = async (text: string, tokens?: number) => {
      const ids = engine.tokenize(text).slice(0, tokens);
      return rewardOfAnswer(engine, head, { messages, promptTokens }, { tokenIds: ids, text, sumLogProb: 0 });
    };
    expect(await score(ANSWERS[0])).toBeGreaterThan(await score(ANSWERS[1]));
    expect(await score(ANSWERS[0], 8)).toBeGreaterThan(await score(ANSWERS[1], 8));
  });
});

test("chat prompts rank by the chat reward by default (on SmolLM2's own states), completions by logprob; a reward given wins", async () => {
  expect(ASSISTANT_REWARD_DEFAULT.spec).toBe(`head:${DEFAULT_ASSISTANT_REWARD}`);
  const model = smollm2Path();
  const guard = await createGuard({ model, threads: 1 });
  const head = await HeadRewardModel.load(DEFAULT_ASSISTANT_REWARD, { policyModelPath: model });
  try {
    expect(guard.warnings).toEqual([]);
    expect(head.needsHidden).toBe(true); // the policy is its backbone (same sha256): no side model
    const messages = [{ role: "user" as const, content: REQUEST }];
    const chat = await guard.generate(messages, { maxTokens: 16, seed: 3 });
    const expected = await rewardOfAnswer(guard.engine, head, { messages, promptTokens: guard.engine.chatPrompt(messages) }, { tokenIds: chat.tokenIds, text: chat.text, sumLogProb: 0 });
    // The reward reported is the head's logit of the chosen answer, not a mean log-probability (<= 0).
    expect(Math.abs(chat.reward - expected)).toBeLessThan(0.05);
    const logprob = await guard.generate(messages, { maxTokens: 16, seed: 3, reward: LOGPROB_REWARD });
    // Not only <= 0 (a head's logit may be too): the answer's own mean token log-probability.
    expectSameMeanLogProb(logprob.reward, teacherForcedReward(guard.engine, guard.engine.chatPrompt(messages), logprob.tokenIds));
    const story = await guard.generate("Once upon a time", { maxTokens: 8, seed: 3 });
    expect(story.reward).toBeLessThanOrEqual(0);
  } finally {
    await guard.dispose();
  }
});

describe("the chat reward on SmolLM2", () => {
  test("beside another policy it runs SmolLM2 as a side model, with the numbers of SmolLM2's own states", async () => {
    const model = smollm2Path();
    const engine = await Engine.load({ modelPath: model, threads: 1, contextSize: 1024, maxSequences: 4, kvCacheType: batchInvariantKvCacheType(model) });
    const side = await HeadRewardModel.load(DEFAULT_ASSISTANT_REWARD, { policyModelPath: MODEL, threads: 1 });
    const { weights, bias } = JSON.parse(readFileSync(DEFAULT_ASSISTANT_REWARD, "utf8")) as { weights: number[]; bias: number };
    const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
    try {
      expect(side.needsHidden).toBe(false); // the tiny assistant is not its backbone (sha256)
      const messages = [{ role: "user" as const, content: REQUEST }];
      const promptTokens = engine.chatPrompt(messages);
      const scores: number[] = [];
      for (const text of ANSWERS) {
        engine.clear();
        const h = engine.hidden(Int32Array.of(engine.prefill(0, [...promptTokens, ...engine.tokenize(text)])));
        const own = bias + weights.reduce((s, w, j) => s + w * h[j]!, 0);
        const [viaSide] = await side.score({ messages, promptTokens: [] }, [{ tokens: [], text, sumLogProb: 0 }]);
        // The side model's row comes from another batch shape (a prefix-sharing pass): a row may be
        // SAME_ROW_TOLERANCE (relative L2) away, so the logit |w.(h' - h)| <= tol * |w| * |h|.
        expect(Math.abs(own - viaSide!)).toBeLessThanOrEqual(SAME_ROW_TOLERANCE * norm(weights) * norm(h));
        scores.push(own);
      }
      // The recipe above the refusal, by more than the bound above (so the check could fail). Not
      // asserted: above an answer to another request (held-out pairwise only 0.59, models/README.md).
      expect(scores[0]! - scores[1]!).toBeGreaterThan(1);
    } finally {
      await side.dispose();
      await engine.dispose();
    }
  });

  test("an unknown chat model without SmolLM2 fetched: said once at startup, chat ranks by logprob", async () => {
    const saved = process.env.INFERENCE_GUARD_MODELS_DIR;
    process.env.INFERENCE_GUARD_MODELS_DIR = join(tmpdir(), "inference-guard-no-models-here");
    try {
      const guard = await createGuard({ model: MODEL, threads: 1 });
      try {
        expect(guard.engine.info.chatTemplate).toBe(true);
        expect(guard.warnings).toHaveLength(1);
        expect(guard.warnings[0]).toMatch(/^the chat reward \(a helpfulness head on SmolLM2-135M-Instruct\.Q4_1\.gguf\) cannot run: .*models fetch smollm2-135m-instruct.*: chat prompts rank by logprob/);
        expect(guard.warnings[0]).not.toContain("\n");
        const messages = [{ role: "user" as const, content: REQUEST }];
        const a = await guard.generate(messages, { maxTokens: 8, seed: 1 });
        await guard.generate(messages, { maxTokens: 8, seed: 2 });
        expectSameMeanLogProb(a.reward, teacherForcedReward(guard.engine, guard.engine.chatPrompt(messages), a.tokenIds));
        expect(guard.warnings).toHaveLength(1); // not again per request
      } finally {
        await guard.dispose();
      }
    } finally {
      if (saved === undefined) delete process.env.INFERENCE_GUARD_MODELS_DIR;
      else process.env.INFERENCE_GUARD_MODELS_DIR = saved;
    }
  });
});

describe("a request picks a reward model by name, and the name decides the ranking", () => {
  // Two named heads that rank answers opposite ways: a name that did not reach the search would
  // give both requests the same answer.
  const named = () => ({ helpful: `head:${TINY_HEAD}`, contrary: `head:${contraryHead()}` });
  const messages = [{ role: "user" as const, content: REQUEST }];
  const SETTINGS = { maxTokens: 24, seed: 3 };
  /** The library's answers under each name: the reference the server's and batch's must equal. */
  let library: Record<"helpful" | "contrary", string>;

  test("library: rewardName ranks by the named model, whose reward of the answer is reported", async () => {
    const guard = await createGuard({ model: MODEL, threads: 1, rewardModels: named() });
    const head = await HeadRewardModel.load(TINY_HEAD, { policyModelPath: MODEL });
    try {
      const promptTokens = guard.engine.chatPrompt(messages);
      const helpful = await guard.generate(messages, { ...SETTINGS, rewardName: "helpful" });
      const contrary = await guard.generate(messages, { ...SETTINGS, rewardName: "contrary" });
      const headOf = (r: { tokenIds: number[]; text: string }) => rewardOfAnswer(guard.engine, head, { messages, promptTokens }, { ...r, sumLogProb: 0 });
      expect(contrary.text).not.toBe(helpful.text);
      const [h, c] = [await headOf(helpful), await headOf(contrary)];
      expect(h).toBeGreaterThan(c);
      expect(Math.abs(helpful.reward - h)).toBeLessThan(0.05);
      expect(Math.abs(contrary.reward + c)).toBeLessThan(0.05); // the contrary head's logit is minus the head's
      // "logprob" ranks by likelihood: the reward reported is the answer's mean token log-probability.
      const logprob = await guard.generate(messages, { ...SETTINGS, rewardName: "logprob" });
      expectSameMeanLogProb(logprob.reward, teacherForcedReward(guard.engine, promptTokens, logprob.tokenIds));
      library = { helpful: helpful.text, contrary: contrary.text };
    } finally {
      await guard.dispose();
    }
  });

  test("server: guard.reward names a built-in or --reward-model one and gives its answer; an unknown name or guard key is a 400 that lists the valid ones", async () => {
    const { createGuardServer } = await import("../../src/server/index.js");
    const server = await createGuardServer({ model: MODEL, threads: 1, port: 0, parallel: 1, rewardModels: named() });
    try {
      expect(server.guard.rewardNames).toEqual(["default", "logprob", "helpful", "contrary"]);
      const post = (guard: unknown) =>
        server.app.inject({ method: "POST", url: "/v1/chat/completions", payload: { model: "m", messages, max_tokens: SETTINGS.maxTokens, seed: SETTINGS.seed, guard } });
      const answer = async (reward: string) => {
        const r = await post({ reward });
        expect(r.statusCode).toBe(200);
        return JSON.parse(r.body).choices[0].message.content as string;
      };
      expect(await answer("helpful")).toBe(library.helpful);
      expect(await answer("contrary")).toBe(library.contrary);
      const logprob = JSON.parse((await post({ reward: "logprob" })).body);
      expect(logprob.guard.reward).toBeLessThanOrEqual(0); // a mean log-probability
      const unknown = await post({ reward: "nope" });
      expect(unknown.statusCode).toBe(400);
      expect(JSON.parse(unknown.body).error).toMatchObject({ param: "guard.reward", message: expect.stringContaining("default, logprob, helpful, contrary") });
      const badKey = await post({ rewrd: "logprob" });
      expect(badKey.statusCode).toBe(400);
      expect(JSON.parse(badKey.body).error.message).toMatch(/unknown field "rewrd" \(the guard field takes .*reward.*\)/);
    } finally {
      await server.close();
    }
  });

  test("CLI: batch --reward-model NAME=SPEC, rows picking it by guard.reward, get its answer", async () => {
    const { cli } = await import("../helpers/cli.js");
    const dir = mkdtempSync(join(tmpdir(), "inference-guard-reward-batch-"));
    const [input, output] = [join(dir, "in.jsonl"), join(dir, "out.jsonl")];
    const rows = (["helpful", "contrary"] as const).map((reward) => ({ id: reward, messages, guard: { reward, seed: SETTINGS.seed } }));
    writeFileSync(input, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const specs = Object.entries(named()).flatMap(([name, spec]) => ["--reward-model", `${name}=${spec}`]);
    const r = await cli("batch", "--model", MODEL, "--in", input, "--out", output, "--max-tokens", String(SETTINGS.maxTokens), "--threads", "1", "--parallel", "1", "--quiet", ...specs);
    expect(r.code).toBe(0);
    const answers = Object.fromEntries(readFileSync(output, "utf8").trim().split("\n").map((l) => JSON.parse(l)).map((l) => [l.id, l.text]));
    expect(answers).toEqual(library);
  });

  test("library: an unknown rewardName is a UserError naming the choices", async () => {
    const guard = await createGuard({ model: MODEL, threads: 1 });
    try {
      await expect(guard.generate(REQUEST, { chat: true, maxTokens: 4, rewardName: "nope" })).rejects.toThrow(/unknown reward model "nope": this guard offers default, logprob/);
      await expect(createGuard({ model: MODEL, threads: 1, rewardModels: { logprob: "logprob" } })).rejects.toThrow(/invalid reward model name "logprob"/);
    } finally {
      await guard.dispose();
    }
  });
});

test("where the chat reward's backbone is missing, chat ranks by logprob and the guard says so (at startup for a model with a chat template, else at the first chat request)", async () => {
  const saved = process.env.INFERENCE_GUARD_REWARD_MODEL;
  process.env.INFERENCE_GUARD_REWARD_MODEL = "/no/such/backbone.gguf";
  try {
    const guard = await createGuard({ model: STORIES_MODEL, threads: 1 });
    try {
      expect(guard.engine.info.chatTemplate).toBe(false);
      expect(guard.warnings).toEqual([]); // a completion model: nothing to say while it completes
      await guard.generate("Once upon a time", { maxTokens: 4, seed: 1 });
      expect(guard.warnings).toEqual([]);
      const r = await guard.generate("Once upon a time", { chat: true, maxTokens: 8, seed: 1 });
      expect(guard.warnings.join("\n")).toMatch(/the backbone is not at \/no\/such\/backbone\.gguf .*: chat prompts rank by logprob/);
      expect(r.reward).toBeLessThanOrEqual(0); // a mean log-probability
    } finally {
      await guard.dispose();
    }
  } finally {
    if (saved === undefined) delete process.env.INFERENCE_GUARD_REWARD_MODEL;
    else process.env.INFERENCE_GUARD_REWARD_MODEL = saved;
  }
  // With the backbone in place (SmolLM2 fetched), no warning.
  smollm2Path();
  const ok = await createGuard({ model: STORIES_MODEL, threads: 1 });
  expect(ok.warnings).toEqual([]);
  await ok.dispose();
});

test("ARGS adds the reward of each top-k continuation: with a heavy reward weight it picks the token whose continuation the head scores highest", async () => {
  const { generateArgs } = await import("../../src/search/baselines/args.js");
  const { TopK } = await import("../../src/search/baselines/args.js");
  const engine = await Engine.load({ modelPath: MODEL, threads: 1, contextSize: 1024, maxSequences: 16 });
  const head = await HeadRewardModel.load(TINY_ASSISTANT_REWARD, { policyModelPath: MODEL });
  const free = { name: "free", cost: () => 0, stepCosts: (items: readonly unknown[]) => items.map(() => 0) };
  try {
    const messages = [{ role: "user" as const, content: REQUEST }];
    const promptTokens = engine.chatPrompt(messages);
    // The oracle: each of the 8 most likely first tokens, scored alone by teacher-forcing.
    engine.clear();
    const logits = engine.logits(engine.prefill(0, promptTokens));
    const top = new TopK(8);
    top.select(logits);
    let best = -1;
    let bestReward = -Infinity;
    for (const t of top.indices) {
      if (engine.isEndOfGeneration(t)) continue;
      const r = await rewardOfAnswer(engine, head, { messages, promptTokens }, { tokenIds: [t], text: engine.detokenize([t], []), sumLogProb: 0 });
      if (r > bestReward) [best, bestReward] = [t, r];
    }
    const args = await generateArgs({ engine, promptTokens, cost: free, budget: 1, topCandidates: 8, omega: 0, seed: 1, maxTokens: 1, reward: head, rewardRequest: { messages }, rewardWeight: 1000 });
    expect(args.tokenIds).toEqual([best]);
    // Without the reward it is greedy decoding: the most likely token.
    const plain = await generateArgs({ engine, promptTokens, cost: free, budget: 1, topCandidates: 8, omega: 0, seed: 1, maxTokens: 1 });
    expect(plain.tokenIds).toEqual([top.indices[0]]);
  } finally {
    await engine.dispose();
  }
});
