// Measurement (not a test): the guard's branch "auto" under cruise-policy variants, against branch
// "always" and plain sampling, on the tiny assistant's requests (how DEFAULT_CRUISE_POLICY in
// src/search/cruise.ts was chosen; docs/efficacy-tiny-assistant.md, "Branching only where the text is at risk").
//
//   npx tsx bench/branch-assistant.ts PROMPTS.jsonl OUT.jsonl VARIANTS_JSON [LIMIT]
//
// Environment: BENCH_MODEL (a GGUF or a known model name; default the tiny assistant),
// BENCH_CRITIC (the critic of {"critic": true}; default models/tiny-assistant-critic.bin),
// BENCH_MAX_TOKENS (default 64), BENCH_SCORE_REWARD (a reward spec every answer is also scored by,
// teacher-forced, as `score`: one yardstick across variants that rank by different rewards).
//
// VARIANTS_JSON names each variant: {"NAME": {"sample": true} | {"beamSafe": true, "reward": SPEC} | {"branch": "always"|"auto",
// "policy": {...CruisePolicy overrides}, "critic": true, "budget": D, "cost": SPEC, "reward": SPEC}}.
// Every request is answered once per variant (seed 1, 64 tokens, K=4 N=8 W=8; by default the shipped
// harm classifier, budget 0.5 and ranking by logprob, as when the branch policy was chosen); OUT gets
// one line per answer with its text, reward, cost, time, rows decoded and blocks cruised. Score
// the texts with the judge and summarise:
//   /usr/bin/python3 scripts/testbed/judge.py ../shared --score OUT.jsonl SCORED.jsonl
//   python3 scripts/testbed/branch_summary.py SCORED.jsonl
import { readFileSync, writeFileSync } from "node:fs";
import { bindRequest, type CostModel } from "../src/cost/costModel.js";
import { loadCostModel } from "../src/cost/load.js";
import { loadRewardModel } from "../src/reward/load.js";
import { rewardOfAnswer } from "../src/reward/answerReward.js";
import { resolveModel } from "../src/models/index.js";
import type { RewardModel } from "../src/reward/rewardModel.js";
import { Critic } from "../src/critic/index.js";
import { Engine } from "../src/engine/engine.js";
import { generateGuarded, type CruisePolicy, type EndPolicy } from "../src/search/guard.js";
import { generatePlain } from "../src/search/plain.js";
import { generateBeam } from "../src/search/baselines/beam.js";
import { wrapMethod } from "./measure.js";

interface Variant {
  sample?: boolean;
  /** Beam search with the safety state (the efficacy table's beam-safe) at the guard's K, N, W. */
  beamSafe?: boolean;
  branch?: "auto" | "always";
  policy?: Partial<CruisePolicy>;
  critic?: boolean;
  /** Overrides of DEFAULT_END_POLICY. */
  end?: Partial<EndPolicy>;
  budget?: number;
  /** Cost model spec (default: the shipped harm classifier). */
  cost?: string;
  /** Reward spec (default: logprob). */
  reward?: string;
}

const [promptsFile, outFile, variantsJson, limit] = process.argv.slice(2);
if (!variantsJson) {
  process.stderr.write("usage: npx tsx bench/branch-assistant.ts PROMPTS.jsonl OUT.jsonl VARIANTS_JSON [LIMIT]\n");
  process.exit(2);
}
const variants: Record<string, Variant> = JSON.parse(variantsJson);
const prompts: { prompt: string; label?: string }[] = readFileSync(promptsFile, "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l))
  .slice(0, limit ? Number(limit) : undefined);
const SEED = 1;
const MAX_TOKENS = Number(process.env.BENCH_MAX_TOKENS ?? 64);
const BUDGET = 0.5;
const engine = await Engine.load({ modelPath: resolveModel(process.env.BENCH_MODEL ?? "models/testbed/tiny-assistant.gguf"), contextSize: 4096, threads: 1 });
const costs = new Map<string, CostModel>();
const rewards = new Map<string, RewardModel>();
for (const v of Object.values(variants)) {
  const c = v.cost ?? "classifier:models/harm-classifier.bin";
  if (!costs.has(c)) costs.set(c, await loadCostModel(c));
  const r = v.reward ?? "logprob";
  if (!rewards.has(r)) rewards.set(r, await loadRewardModel(r, { policyModelPath: engine.info.modelPath }));
}
const critic = Object.values(variants).some((v) => v.critic) ? Critic.load(process.env.BENCH_CRITIC ?? "models/tiny-assistant-critic.bin") : undefined;
const scoreSpec = process.env.BENCH_SCORE_REWARD;
const scoreReward = scoreSpec ? await loadRewardModel(scoreSpec, { policyModelPath: engine.info.modelPath }) : undefined;
const out: string[] = [];
for (const p of prompts) {
  const messages = [{ role: "user" as const, content: p.prompt }];
  const promptTokens = engine.chatPrompt(messages);
  for (const [name, v] of Object.entries(variants)) {
    // A request-aware cost (harm:, the chat default) charges compliance with this request: bound as the guard binds it.
    const cost = bindRequest(costs.get(v.cost ?? "classifier:models/harm-classifier.bin")!, { messages });
    const reward = rewards.get(v.reward ?? "logprob")!;
    const budget = v.budget ?? BUDGET;
    const step = wrapMethod(engine, "step", "step", (args) => (args[0] as Int32Array).length);
    const t0 = performance.now();
    let r;
    try {
      r = v.sample
        ? await generatePlain({ engine, promptTokens, method: "sample", options: { seed: SEED, maxTokens: MAX_TOKENS }, cost, budget })
        : v.beamSafe
          ? await generateBeam({ engine, promptTokens, cost, budget, reward, rewardRequest: { messages }, safety: true, beams: 4, samples: 8, width: 8, seed: SEED, maxTokens: MAX_TOKENS })
          : await generateGuarded({
            engine, promptTokens, cost, reward, rewardRequest: { messages }, critic: v.critic ? critic : undefined, cruisePolicy: v.policy, endPolicy: v.end,
            options: { seed: SEED, maxTokens: MAX_TOKENS, budget, branch: v.branch ?? "auto", trace: true },
          });
    } finally {
      step.restore();
    }
    const ms = performance.now() - t0;
    const trace = r.trace ?? [];
    const blocks = new Set(trace.map((b) => b.block)).size;
    // A block cruised when its last trace entry is a cruising one (a rejected cruise is followed by the full block).
    const cruised = trace.filter((b, j) => b.cruise && trace[j + 1]?.block !== b.block).length;
    out.push(
      JSON.stringify({
        variant: name, label: p.label, prompt: p.prompt, text: r.text, tokens: r.tokens, reward: r.reward, cost: r.cost,
        withinBudget: r.withinBudget, fallback: r.fallback, stopReason: r.stopReason, ms, rows: step.timer.units, blocks, cruised,
        firstEnded: trace.find((b) => b.candidates.some((c) => c.status === "finished"))?.block ?? null,
        ...(scoreReward ? { score: await rewardOfAnswer(engine, scoreReward, { messages, promptTokens }, { tokenIds: r.tokenIds, text: r.text, sumLogProb: 0 }) } : {}),
        firstBlockCost: trace[0]?.candidates.find((c) => c.status === "kept" || c.status === "finished")?.cost ?? null,
      }),
    );
  }
  writeFileSync(outFile, out.join("\n") + "\n"); // after every request: a long run can be read as it goes
}
await scoreReward?.dispose?.();
for (const c of costs.values()) await c.dispose?.();
for (const r of rewards.values()) await r.dispose?.();
await engine.dispose();
