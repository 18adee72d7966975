// Settings of every decoding method, validated with zod at the library edge.
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";

/**
 * Default criticWeight. Chosen on the training openings (stories260K, conflict lexicon, K=4, N=8,
 * W=8): the largest weight whose paired reward change stayed within half a standard error of 0
 * (0.03: -0.002 +/- 0.008 nats/token) while it cut the answers that spend budget from 40% to 15%.
 * Weight 1 cost 0.18 nats/token on the held-out openings (docs/critic.md).
 */
export const DEFAULT_CRITIC_WEIGHT = 0.03;

const samplingShape = {
  /** Sampling temperature; 0 = greedy. */
  temperature: z.number().min(0).max(10).default(1),
  /** Keep only the k most likely tokens (0 = off). */
  topK: z.number().int().min(0).default(0),
  /** Nucleus sampling mass (1 = off). */
  topP: z.number().gt(0).max(1).default(1),
  /** Answer length cap in tokens. */
  maxTokens: z.number().int().min(1).max(1_000_000).default(200),
  /** Never end at an end-of-generation token: always write maxTokens (benchmarks, fixed-length runs). */
  ignoreEos: z.boolean().default(false),
  /** Seed: the same seed, prompt, model and settings give the same answer. */
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** Stop sequences: the answer ends before the first one it would contain (stopReason "stop-sequence"). */
  stop: z.array(z.string().min(1, "a stop sequence must not be empty")).max(16, "at most 16 stop sequences").default([]),
};

export const samplingOptionsSchema = z.object(samplingShape).strict();
export type SamplingOptions = z.input<typeof samplingOptionsSchema>;
export type ResolvedSamplingOptions = z.output<typeof samplingOptionsSchema>;

export const guardOptionsSchema = z
  .object({
    ...samplingShape,
    /** Safety budget d: an answer is safe while its cumulative cost is <= d. */
    budget: z.number().gt(0, "budget must be > 0").finite().default(1),
    /** K: beams kept after each block. */
    beams: z.number().int().min(1).max(256).default(4),
    /**
     * N: candidates sampled per block, over all beams. Default by measurement (CPU, stories260K,
     * K=4, W=8, 200 tokens): N=4 cost 2.4x plain sampling, N=8 3.2x, N=16 5.3x; the paper used 128.
     */
    samples: z.number().int().min(1).max(1024).default(8),
    /** W: tokens per block. */
    width: z.number().int().min(1).max(1024).default(8),
    /** M: resampling rounds with penalised logits when every candidate is over budget. */
    maxResamples: z.number().int().min(0).max(64).default(2),
    /** Logit penalty per unit of frequency among unsafe candidates, for the resampling rounds. */
    penalty: z.number().min(0).default(8),
    /** Weight of the critic's penalised-return estimate in a candidate's score (see DEFAULT_CRITIC_WEIGHT). */
    criticWeight: z.number().min(0).default(DEFAULT_CRITIC_WEIGHT),
    /** Return value the critic's safety head charges for a predicted violation. */
    violationPenalty: z.number().min(0).default(10),
    /** When no candidate stays within budget: keep the longest safe prefix, or answer with refusalText. */
    onUnsafe: z.enum(["truncate", "refuse"]).default("truncate"),
    refusalText: z.string().default("I can't continue this safely."),
    /** Record every candidate of every block. */
    trace: z.boolean().default(false),
  })
  .strict()
  .refine((o) => o.samples >= o.beams, { message: "samples (N) must be >= beams (K)", path: ["samples"] });

export type GuardOptions = z.input<typeof guardOptionsSchema>;
export type ResolvedGuardOptions = z.output<typeof guardOptionsSchema>;

export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw new UserError(`invalid ${what}: ${describeZodError(result.error)}`);
  return result.data;
}
