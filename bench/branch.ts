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
import { DEFAULT_COST_RULES } from "../src/cost/load.js";
import { RulesCostModel } from "../src/cost/rules.js";
import { Engine } from "../src/engine/engine.js";
import { SHARED_DIR } from "../src/paths.js";
import { generateGuarded, type CruisePolicy } from "../src/search/guard.js";
import { generatePlain } from "../src/search/plain.js";
import type { GenerationResult } from "../src/search/types.js";
import { float, type FlagTable } from "../src/cli/flagTable.js";
import { UserError } from "../src/errors.js";
import { OUT_FLAG, benchFlags, benchUsage, countFlag, threadsFlag } from "./flags.js";
import { fmt, table, timed, wrapMethod, writeJsonAtomic } from "./measure.js";

const STORIES = join(SHARED_DIR, "models", "stories260K.gguf");

const FLAGS = {
  model: { metavar: "PATH", help: "GGUF to measure", default: STORIES, defaultText: "../shared/models/stories260K.gguf" },
  threads: threadsFlag(),
  tokens: countFlag("T", "answer tokens (ignoreEos: fixed length)", 200),
  seeds: countFlag("S", "seeds 1..S, each run by every mode", 5),
  prompt: { metavar: "TEXT", help: "the prompt", default: "Once upon a time", defaultText: '"Once upon a time"' },
  budget: { metavar: "D", help: "safety budget", parse: float(), default: 1 },
  policy: { metavar: "JSON", help: "cruise policy overrides, e.g. '{\"branchBlocks\":2}'", parse: jsonFlag },
  modes: { metavar: "LIST", help: "comma-separated: sample, auto, always", default: "sample,auto,always" },
  out: OUT_FLAG,
} as const satisfies FlagTable;

function jsonFlag(values: Record<string, unknown>, name: string): Partial<CruisePolicy> | undefined {
  const raw = values[name];
  if (typeof raw !== "string") return undefined;
  try {
    return JSON.parse(raw) as Partial<CruisePolicy>;
  } catch (error) {
    throw new UserError(`--${name} is not JSON: ${(error as Error).message}`);
  }
}

const values = benchFlags("branch", FLAGS, benchUsage("branch", "The guard's branch auto against always and plain sampling: time per answer token, reward, rows decoded.", FLAGS));
const maxTokens = values.tokens;
const seeds = Array.from({ length: values.seeds }, (_, i) => i + 1);
const budget = values.budget;
const policy: Partial<CruisePolicy> = values.policy ?? {};
const modes = values.modes.split(",");

const engine = await Engine.load({
  modelPath: values.model,
  contextSize: 8192,
  ...(values.threads ? { threads: values.threads } : {}),
});
const cost = RulesCostModel.fromFile(DEFAULT_COST_RULES);
const promptTokens = engine.completionPrompt(values.prompt);

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
