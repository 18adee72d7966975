// Every way a generation starts binds a request-aware cost model to its request
// (CostModel.forRequest): the guard and plain sampling through createGuard, and every method of an
// evaluation (src/eval/methods.ts). The bound model is told apart from the unbound one by its
// charge: unbound it charges nothing, bound it charges every added piece of text.
import { createGuard } from "../../../src/createGuard.js";
import type { CostModel, StepItem } from "../../../src/cost/costModel.js";
import { Engine } from "../../../src/engine/engine.js";
import { parseMethodSpec, runMethod } from "../../../src/eval/methods.js";
import { LOGPROB_REWARD } from "../../../src/reward/rewardModel.js";
import { STORIES_MODEL } from "../../helpers/models.js";

const STEP = 0.001;
function recordingCost(): CostModel & { requests: string[] } {
  const requests: string[] = [];
  const charging = (perStep: number): CostModel => ({
    name: "recording",
    maxCost: undefined,
    cost: (text: string) => (text.length > 0 ? perStep : 0),
    stepCosts: (items: ReadonlyArray<StepItem>) => items.map((i) => (i.added.length > 0 ? perStep : 0)),
  });
  return { ...charging(0), requests, forRequest: (request: string) => (requests.push(request), charging(STEP)) };
}

test("createGuard binds the last user message (chat) or the prompt (completion), for the guard and for plain sampling", async () => {
  const cost = recordingCost();
  const guard = await createGuard({ model: STORIES_MODEL, cost, threads: 1, defaults: { maxTokens: 8, budget: 100 } });
  try {
    const chat = await guard.generate([{ role: "user", content: "first question" }, { role: "assistant", content: "an answer" }, { role: "user", content: "Once upon a time" }], { seed: 1 });
    const completion = await guard.generate("The little dog", { seed: 1 });
    const chatString = await guard.generate("A chat prompt as a string", { chat: true, seed: 1 });
    const sampled = await guard.generate("The cat sat", { method: "sample", seed: 1 });
    expect(cost.requests).toEqual(["Once upon a time", "The little dog", "A chat prompt as a string", "The cat sat"]);
    for (const r of [chat, completion, chatString, sampled]) {
      expect(r.tokens).toBeGreaterThan(0);
      // Charged by the bound model (the unbound one charges 0).
      expect(r.cost).toBeGreaterThan(0);
    }
  } finally {
    await guard.dispose();
  }
}, 60_000);

test("every evaluation method binds the prompt's request", async () => {
  const engine = await Engine.load({ modelPath: STORIES_MODEL, threads: 1, contextSize: 1024, maxSequences: 8 });
  try {
    const promptTokens = engine.completionPrompt("Once upon a time");
    for (const spec of ["greedy", "sample", "bon:n=2", "bon-safe:n=2", "beam-safe:k=2:n=2", "args:k=2", "guard:k=2:n=2"]) {
      const cost = recordingCost();
      const r = await runMethod(parseMethodSpec(spec), { engine, cost, reward: LOGPROB_REWARD, budget: 100, maxTokens: 8 }, promptTokens, 1, { prompt: "Once upon a time" });
      expect([spec, cost.requests]).toEqual([spec, ["Once upon a time"]]);
      expect([spec, r.cost > 0]).toEqual([spec, true]);
    }
  } finally {
    await engine.dispose();
  }
}, 120_000);
