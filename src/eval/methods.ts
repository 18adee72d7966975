// The decoding methods an evaluation compares, named with their parameters on the command line
// ("bon-lagrangian:n=8:lambda=2") or in a config file ({"method": "bon-lagrangian", "n": 8, "lambda": 2}),
// each validated with zod, and run on one shared engine.
import { z } from "zod";
import { bindRequest, type CostModel } from "../cost/costModel.js";
import { DEFAULT_MAX_SEQUENCES } from "../engine/constants.js";
import type { Engine } from "../engine/engine.js";
import { UserError, describeZodError } from "../errors.js";
import { generateArgs } from "../search/baselines/args.js";
import { generateBeam } from "../search/baselines/beam.js";
import { generateBestOfN } from "../search/baselines/bestOfN.js";
import { generateGreedy, generateSample } from "../search/baselines/sampling.js";
import { generateGuarded, requiredContextCells } from "../search/guard.js";
import type { CriticScorer, GenerationResult } from "../search/types.js";
import { SEARCH_SETTINGS, SEQUENCES_MESSAGE, fitsSequences } from "../settings.js";
import { LOGPROB_REWARD, type RewardModel, type RewardRequest } from "../reward/rewardModel.js";

// A method's parameters are the search settings under short names (src/settings.ts: their ranges
// and, unless an evaluation default is given here, their defaults).
const S = SEARCH_SETTINGS;
/** Best-of-N holds its n answers and the prompt as sequences. */
const bonN = S.samples.base.max(DEFAULT_MAX_SEQUENCES - 1, `n must be at most ${DEFAULT_MAX_SEQUENCES - 1} (n answers and the prompt are the engine's ${DEFAULT_MAX_SEQUENCES} sequences)`).default(8);
/** Which reward a ranking method maximises: the evaluation's (config `reward`) or likelihood (for comparison rows). */
const rewardParam = z.enum(["default", "logprob"]).default("default");
const beamShape = {
  reward: rewardParam,
  /** K: beams kept per block. */
  k: S.beams.schema,
  /** N: candidates per block over all beams (16 here, as in the comparisons of docs/eval-report.md). */
  n: S.samples.base.default(16),
  /** W: tokens per block. */
  w: S.width.schema,
  /** Sampling temperature. */
  t: S.temperature.schema,
};
const guardShape = {
  ...beamShape,
  /** M: penalised resampling rounds. */
  m: S.maxResamples.schema,
  /** Logit penalty for tokens of unsafe candidates. */
  penalty: S.penalty.schema,
  /** When no candidate is safe: keep the longest safe prefix, or answer with the refusal text. */
  unsafe: S.onUnsafe.schema,
  /** auto: search in full only where the text is at risk; always: every block (the paper's search). */
  branch: S.branch.schema,
};
const kAtMostN = (o: { k: number; n: number }) => o.n >= o.k;
const kAtMostNMessage = { message: "n (candidates per block) must be >= k (beams)", path: ["n"] };
const fits = (o: { k: number; n: number }) => fitsSequences(o.k, o.n);
const fitsMessage = { message: SEQUENCES_MESSAGE.replace("beams + samples", "k + n"), path: ["n"] };

export const METHOD_PARAMS = {
  greedy: z.object({}).strict(),
  sample: z.object({ t: S.temperature.schema }).strict(),
  bon: z.object({ n: bonN, t: S.temperature.schema , reward: rewardParam }).strict(),
  "bon-lagrangian": z.object({ n: bonN, lambda: z.number().min(0).finite().default(1), t: S.temperature.schema , reward: rewardParam }).strict(),
  "bon-safe": z.object({ n: bonN, w: S.width.schema, t: S.temperature.schema , reward: rewardParam }).strict(),
  beam: z.object(beamShape).strict().refine(kAtMostN, kAtMostNMessage).refine(fits, fitsMessage),
  "beam-safe": z.object(beamShape).strict().refine(kAtMostN, kAtMostNMessage).refine(fits, fitsMessage),
  args: z
    .object({ k: z.number().int().min(1).max(100_000).default(10), omega: z.number().min(0).finite().default(1), t: S.temperature.base.default(0), reward: rewardParam, rw: z.number().min(0).finite().default(1) })
    .strict(),
  guard: z.object(guardShape).strict().refine(kAtMostN, kAtMostNMessage).refine(fits, fitsMessage),
  "guard-critic": z
    .object({ ...guardShape, cw: S.criticWeight.schema, vp: S.violationPenalty.schema })
    .strict()
    .refine(kAtMostN, kAtMostNMessage)
    .refine(fits, fitsMessage),
} as const;

export type MethodKind = keyof typeof METHOD_PARAMS;
export const METHOD_KINDS = Object.keys(METHOD_PARAMS) as MethodKind[];

/** One line per method for --help: what it does and its parameters with defaults. */
const METHOD_DESCRIPTIONS: Record<MethodKind, string> = {
  greedy: "the most likely token at every step",
  sample: "temperature sampling of one answer",
  bon: "Best-of-N by reward: n answers, keep the highest reward (the evaluation's; reward=logprob: mean log-prob)",
  "bon-lagrangian": "Best-of-N by reward - lambda*cost",
  "bon-safe": "Best-of-N with the safety state: drop answers over budget (scanned in w-token blocks), best reward of the rest",
  beam: "block beam search by reward: k beams, n candidates of w tokens per block (reward=logprob ranks by likelihood)",
  "beam-safe": "beam search with the safety state: over-budget candidates rank last",
  args: "ARGS: top-k tokens by log-prob, pick by log p - omega*(cost the token adds) + rw*reward (the evaluation's; none with reward=logprob); t=0 greedy",
  guard: "InferenceGuard without critic: m penalised resampling rounds, unsafe=truncate|refuse, branch=auto|always",
  "guard-critic": "InferenceGuard with the critic (--critic): guard's parameters + cw critic weight, vp violation penalty",
};

/** One line per method for --help: what it does and its parameters with their real defaults. */
export const METHOD_HELP = Object.fromEntries(
  METHOD_KINDS.map((k) => {
    const defaults = Object.entries(METHOD_PARAMS[k].parse({}) as Record<string, unknown>).map(([key, value]) => `${key}=${value}`);
    return [k, defaults.length > 0 ? `${METHOD_DESCRIPTIONS[k]} (${defaults.join(", ")})` : METHOD_DESCRIPTIONS[k]];
  }),
) as Record<MethodKind, string>;

export interface MethodSpec {
  /** Display name and record key: the kind plus the parameters given, e.g. "bon:n=8". */
  name: string;
  kind: MethodKind;
  /** Every parameter, defaults filled in. */
  params: Record<string, number | string>;
}

/** A method from its command-line form, "kind[:key=value]...". */
export function parseMethodSpec(text: string): MethodSpec {
  const [kind, ...pairs] = text.trim().split(":");
  const given: Record<string, number | string> = {};
  for (const pair of pairs) {
    const m = /^([A-Za-z][\w-]*)=(.+)$/.exec(pair.trim());
    if (!m) throw new UserError(`method "${text}": expected key=value after "${kind}:", got "${pair}"`);
    if (m[1] in given) throw new UserError(`method "${text}": ${m[1]} is given twice`);
    given[m[1]] = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(m[2]) ? Number(m[2]) : m[2];
  }
  return methodFromParts(kind, given, text);
}

/** A method from its config-file form, {"method": kind, ...params} (or the string form). */
export function methodFromConfig(entry: string | { method: string; [key: string]: unknown }): MethodSpec {
  if (typeof entry === "string") return parseMethodSpec(entry);
  const { method, ...given } = entry;
  return methodFromParts(method, given, JSON.stringify(entry));
}

function methodFromParts(kind: string, given: Record<string, unknown>, source: string): MethodSpec {
  if (!(kind in METHOD_PARAMS)) {
    throw new UserError(`unknown method "${kind}" in "${source}": choose from ${METHOD_KINDS.join(", ")}`);
  }
  const k = kind as MethodKind;
  const parsed = METHOD_PARAMS[k].safeParse(given);
  if (!parsed.success) throw new UserError(`method "${source}": ${describeZodError(parsed.error)}`);
  const params = parsed.data as Record<string, number | string>;
  // The name lists the given parameters in the schema's order, so "bon:n=8" and {"method":"bon","n":8} agree.
  const order = Object.keys(METHOD_PARAMS[k] instanceof z.ZodObject ? (METHOD_PARAMS[k] as z.ZodObject).shape : params);
  const named = Object.keys(params).filter((key) => key in given).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return { name: [k, ...named.map((key) => `${key}=${params[key]}`)].join(":"), kind: k, params };
}

/** A comma-separated list of methods; refuses duplicates. */
export function parseMethodList(text: string): MethodSpec[] {
  const specs = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(parseMethodSpec);
  return checkMethods(specs);
}

export function checkMethods(specs: MethodSpec[]): MethodSpec[] {
  if (specs.length === 0) throw new UserError("no methods given (see --help for the list)");
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) throw new UserError(`method ${s.name} is listed twice`);
    seen.add(s.name);
  }
  return specs;
}

/** KV cells a method needs for a prompt of `promptTokens` tokens and answers of `maxTokens`. */
export function methodContextCells(m: MethodSpec, promptTokens: number, maxTokens: number): number {
  const p = m.params as Record<string, number>;
  switch (m.kind) {
    case "greedy":
    case "sample":
      return promptTokens + maxTokens;
    case "args":
      return promptTokens + maxTokens + p.k; // the k candidates' forks, with a reward
    case "bon":
    case "bon-lagrangian":
    case "bon-safe":
      return promptTokens + p.n * maxTokens;
    case "beam":
    case "beam-safe":
    case "guard":
    case "guard-critic":
      return requiredContextCells(promptTokens, { beams: p.k, samples: p.n, width: p.w, maxTokens });
  }
}

export interface MethodContext {
  engine: Engine;
  cost: CostModel;
  /** The evaluation's reward (a method's reward=default). */
  reward: RewardModel;
  critic?: CriticScorer;
  budget: number;
  maxTokens: number;
  signal?: AbortSignal;
}

/** Runs one method on one prompt with one seed. */
export async function runMethod(
  m: MethodSpec,
  ctx: MethodContext,
  promptTokens: readonly number[],
  seed: number,
  rewardRequest: Omit<RewardRequest, "promptTokens"> = {},
): Promise<GenerationResult> {
  const { engine, budget, maxTokens, signal } = ctx;
  // A request-aware cost model (the chat default) is bound to this prompt's request, as the guard binds it.
  const cost = bindRequest(ctx.cost, rewardRequest);
  const p = m.params as Record<string, number> & { unsafe?: "truncate" | "refuse"; branch?: "auto" | "always"; reward?: "default" | "logprob" };
  const reward = p.reward === "logprob" ? LOGPROB_REWARD : ctx.reward;
  const common = { engine, promptTokens, cost, budget, seed, maxTokens, signal, reward, rewardRequest };
  switch (m.kind) {
    case "greedy":
      return generateGreedy(common);
    case "sample":
      return generateSample({ ...common, temperature: p.t });
    case "bon":
      return generateBestOfN({ ...common, n: p.n, temperature: p.t, rule: { kind: "reward" } });
    case "bon-lagrangian":
      return generateBestOfN({ ...common, n: p.n, temperature: p.t, rule: { kind: "lagrangian", lambda: p.lambda } });
    case "bon-safe":
      return generateBestOfN({ ...common, n: p.n, temperature: p.t, rule: { kind: "safe", width: p.w } });
    case "beam":
    case "beam-safe":
      return generateBeam({ ...common, beams: p.k, samples: p.n, width: p.w, temperature: p.t, safety: m.kind === "beam-safe" });
    case "args":
      return generateArgs({ ...common, topCandidates: p.k, omega: p.omega, temperature: p.t, rewardWeight: p.rw });
    case "guard":
    case "guard-critic": {
      const withCritic = m.kind === "guard-critic";
      if (withCritic && !ctx.critic) throw new UserError(`method ${m.name} needs a critic: pass --critic FILE`);
      return generateGuarded({
        engine,
        promptTokens,
        cost,
        reward,
        rewardRequest,
        critic: withCritic ? ctx.critic : undefined,
        signal,
        options: {
          budget, seed, maxTokens, beams: p.k, samples: p.n, width: p.w, maxResamples: p.m, penalty: p.penalty,
          onUnsafe: p.unsafe, temperature: p.t, branch: p.branch,
          ...(withCritic ? { criticWeight: p.cw, violationPenalty: p.vp } : {}),
        },
      });
    }
  }
}
