// Benchmark (not a test): the guard's branch "auto" against "always" and plain sampling on one
// model: time per answer token (as a ratio to plain sampling's), reward, rows decoded per answer
// token, cruising blocks, answers over budget and fallbacks.
//
//   npx tsx bench/branch.ts [--model PATH] [--threads N] [--tokens T] [--seeds S] [--prompt TEXT]
//                           [--budget D] [--policy JSON] [--modes sample,auto,always] [--out FILE]
//
// Every run is ignoreEos with maxTokens T (fixed-length answers, as npm run bench). --policy
// overrides the cruise policy (DEFAULT_CRUISE_POLICY in src/search/cruise.ts), e.g.
// '{"branchBlocks":2}'. Runs interleave (seeds outer, modes inner) after one warm-up each.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_COST_RULES } from "../src/cost/load.js";
import { RulesCostModel } from "../src/cost/rules.js";
import { Engine } from "../src/engine/engine.js";
import { SHARED_DIR } from "../src/paths.js";
import { generateGuarded, type CruisePolicy } from "../src/search/guard.js";
import { generatePlain } from "../src/search/plain.js";
import type { GenerationResult } from "../src/search/types.js";
import { fmt, table, timed, wrapMethod, writeJsonAtomic } from "./measure.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: join(SHARED_DIR, "models", "stories260K.gguf") },
    threads: { type: "string" },
    tokens: { type: "string", default: "200" },
    seeds: { type: "string", default: "5" },
    prompt: { type: "string", default: "Once upon a time" },
    budget: { type: "string", default: "1" },
    policy: { type: "string" },
    modes: { type: "string", default: "sample,auto,always" },
    out: { type: "string" },
  },
});
const maxTokens = Number(values.tokens);
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
const budget = Number(values.budget);
const policy: Partial<CruisePolicy> = values.policy ? JSON.parse(values.policy) : {};
const modes = values.modes!.split(",");

const engine = await Engine.load({
  modelPath: values.model!,
  contextSize: 8192,
  ...(values.threads ? { threads: Number(values.threads) } : {}),
});
const cost = RulesCostModel.fromFile(DEFAULT_COST_RULES);
const promptTokens = engine.completionPrompt(values.prompt!);

interface Run {
  mode: string;
  seed: number;
  ms: number;
  rows: number;
  result: GenerationResult;
}

async function runOne(mode: string, seed: number): Promise<Run> {
  const step = wrapMethod(engine, "step", "step", (args) => (args[0] as Int32Array).length);
  try {
    const { ms, value } = await timed(() =>
      mode === "sample"
        ? generatePlain({ engine, promptTokens, method: "sample", options: { seed, maxTokens, ignoreEos: true }, cost, budget })
        : generateGuarded({
            engine, promptTokens, cost, cruisePolicy: policy,
            options: { seed, maxTokens, ignoreEos: true, budget, branch: mode as "auto" | "always", trace: mode === "auto" },
          }),
    );
    return { mode, seed, ms, rows: step.timer.units, result: value };
  } finally {
    step.restore();
  }
}

for (const mode of modes) await runOne(mode, 0);
const runs: Run[] = [];
for (const seed of seeds) for (const mode of modes) runs.push(await runOne(mode, seed));

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const msPerToken = (mode: string) => mean(runs.filter((r) => r.mode === mode).map((r) => r.ms / Math.max(1, r.result.tokens)));
const base = msPerToken(modes[0]);
const rows = modes.map((mode) => {
  const rs = runs.filter((r) => r.mode === mode);
  const tokens = rs.reduce((s, r) => s + r.result.tokens, 0);
  const traces = rs.map((r) => r.result.trace ?? []);
  // A cruising block kept is a block whose last trace entry cruised.
  const blockCount = traces.reduce((s, t) => s + new Set(t.map((b) => b.block)).size, 0);
  const cruised = traces.reduce((s, t) => s + t.filter((b, j) => b.cruise && t[j + 1]?.block !== b.block).length, 0);
  return [
    mode,
    fmt(mean(rs.map((r) => r.result.tokens)), 0),
    fmt(msPerToken(mode), 3),
    fmt(msPerToken(mode) / base, 2),
    fmt(mean(rs.map((r) => r.result.reward)), 3),
    fmt(rs.reduce((s, r) => s + r.rows, 0) / Math.max(1, tokens), 2),
    blockCount > 0 ? `${cruised}/${blockCount}` : "",
    String(rs.filter((r) => !r.result.withinBudget).length),
    String(rs.filter((r) => r.result.fallback).length),
  ];
});
console.log(`model ${engine.info.modelPath}, threads ${engine.info.threads}, ${maxTokens} tokens, ignoreEos, budget ${budget}, seeds ${seeds.length}, policy ${JSON.stringify(policy)}`);
console.log(table(["mode", "tokens", "ms/token", `x ${modes[0]}`, "reward", "rows/token", "cruised blocks", "over budget", "fallbacks"], rows));
if (values.out) writeJsonAtomic(values.out, { maxTokens, budget, policy, runs: runs.map((r) => ({ ...r, result: { ...r.result, trace: undefined, tokenIds: undefined } })) });
await engine.dispose();
