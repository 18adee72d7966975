// The per-request guard settings: the extra `guard` body field of the server's endpoints and the
// `guard` field of a batch line, both derived from the settings' declarations (src/settings.ts),
// shared by server and batch. Checked in two steps: the field's own shape (names and types,
// strict, so a typo is an error rather than a silently ignored setting), then the merged search
// options against the library's schema (ranges, samples >= beams), so a bad request is refused
// before it waits in the queue.
import { z } from "zod";
import type { GenerateOptions, Method } from "../createGuard.js";
import { describeZodError } from "../errors.js";
import { guardOptionsSchema, type GuardOptions } from "../search/options.js";
import { SEARCH_SETTINGS, type RequestSettingKey, type Setting } from "../settings.js";

/** A request field's own type check (no range: the merged options are checked by the library's schema). */
function fieldType(s: Setting): z.ZodType {
  switch (s.kind) {
    case "int":
      return z.int();
    case "number":
      return z.number();
    case "boolean":
      return z.boolean();
    case "string":
      return z.string();
    case "choice":
      return z.enum(s.choices as [string, ...string[]]);
    case "strings":
      return z.array(z.string());
  }
}

/** The settings a request field may set: `where` "guard" for the server's guard field, "batch" for a batch row's guard object (which adds the ones a server request gives in standard fields). */
function requestShape(where: "guard" | "batch"): Record<string, z.ZodType> {
  const entries = Object.entries(SEARCH_SETTINGS as Record<string, Setting>).filter(([, s]) => s.request === "guard" || (where === "batch" && s.request === "batch"));
  return Object.fromEntries(entries.map(([key, s]) => [key, fieldType(s)]));
}

const selectionShape = {
  /** Name of a cost model the server/batch was started with ("default" unless configured). */
  cost: z.string().min(1),
  /** Name of a reward model: "default" (the prompt kind's), "logprob", or one the server/batch was started with (--reward-model). */
  reward: z.string().min(1),
  /** guard (InferenceGuard) or a baseline, for comparisons. */
  method: z.enum(["guard", "sample", "greedy"]),
};

type RequestField<K extends keyof typeof SEARCH_SETTINGS> = Partial<{ [P in K]: z.output<(typeof SEARCH_SETTINGS)[P]["base"]> } & { cost: string; reward: string; method: Method }>;

/** The server's `guard` body field: every setting declared with request "guard", plus the cost model's name and the method. */
export const guardFieldSchema = z
  .object({ ...requestShape("guard"), ...selectionShape })
  .partial()
  .strict() as unknown as z.ZodType<RequestField<RequestSettingKey<"guard">>>;

/** A batch row's `guard` object: the guard field plus the settings a server request gives in standard fields (request "batch"). */
export const batchGuardSchema = z
  .object({ ...requestShape("batch"), ...selectionShape })
  .partial()
  .strict() as unknown as z.ZodType<RequestField<RequestSettingKey<"guard" | "batch">>>;

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
  const { cost, reward, method, ...search } = field ?? {};
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
  return { costName: cost, options: { ...merged, method: (method ?? "guard") as Method, ...(reward !== undefined ? { rewardName: reward } : {}) } };
}
