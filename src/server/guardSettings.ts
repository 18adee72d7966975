// The per-request guard settings: the extra `guard` body field of the server's endpoints and the
// `guard` field of a batch line. Checked in two steps: the field's own shape (names and types,
// strict, so a typo is an error rather than a silently ignored setting), then the merged search
// options against the library's schema (ranges, samples >= beams), so a bad request is refused
// before it waits in the queue.
import { z } from "zod";
import type { GenerateOptions, Method } from "../createGuard.js";
import { describeZodError } from "../errors.js";
import { guardOptionsSchema, type GuardOptions } from "../search/options.js";

export const guardFieldSchema = z
  .object({
    /** Safety budget d (> 0). */
    budget: z.number(),
    /** K: beams kept per block. */
    beams: z.int(),
    /** N: candidates per block, over all beams. */
    samples: z.int(),
    /** W: tokens per block. */
    width: z.int(),
    /** Name of a cost model the server/batch was started with ("default" unless configured). */
    cost: z.string().min(1),
    /** guard (InferenceGuard) or a baseline, for comparisons. */
    method: z.enum(["guard", "sample", "greedy"]),
    maxResamples: z.int(),
    penalty: z.number(),
    criticWeight: z.number(),
    violationPenalty: z.number(),
    onUnsafe: z.enum(["truncate", "refuse"]),
    refusalText: z.string(),
    topK: z.int(),
    /** Return every candidate of every block. */
    trace: z.boolean(),
  })
  .partial()
  .strict();

export type GuardField = z.infer<typeof guardFieldSchema>;

/** What a request asks for, split into the cost model's name and guard.generate options. */
export interface ResolvedRequestSettings {
  costName: string | undefined;
  options: Omit<GenerateOptions, "signal" | "onText" | "chat">;
}

/**
 * Merges (in order of precedence) the guard field, the sampling fields the caller mapped from its
 * own format (max_tokens, temperature, ...), and the configured defaults; validates the result.
 * Returns an error message (field path and problem) instead of throwing, for a 400 or a bad line.
 */
export function resolveRequestSettings(
  field: GuardField | undefined,
  sampling: Pick<GuardOptions, "maxTokens" | "temperature" | "topP" | "seed" | "stop" | "ignoreEos">,
  defaults: GuardOptions,
  /** How the caller's format names a search option, for messages; default `guard.<option>`. */
  fieldNames: Readonly<Record<string, string>> = {},
): ResolvedRequestSettings | { error: string } {
  const { cost, method, ...search } = field ?? {};
  const definedSampling = Object.fromEntries(Object.entries(sampling).filter(([, v]) => v !== undefined));
  const merged: GuardOptions = { ...defaults, ...definedSampling, ...search };
  const checked = guardOptionsSchema.safeParse(merged);
  if (!checked.success) {
    // Name the request's own field ("guard.samples", "max_tokens"), not the library's option name.
    const issues = checked.error.issues.map((issue) => {
      const option = String(issue.path[0] ?? "");
      return { ...issue, path: [fieldNames[option] ?? `guard.${option}`, ...issue.path.slice(1)] };
    });
    return { error: describeZodError({ issues }) };
  }
  return { costName: cost, options: { ...merged, method: (method ?? "guard") as Method } };
}
