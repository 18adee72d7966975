// The batch input: JSONL, one prompt per line, `{id, prompt | messages, guard?}`. Every line is
// checked before any generation starts, so a bad line (bad JSON, wrong field, duplicate id, a
// setting out of range, an unknown cost model) is reported with its line number and skipped,
// and the progress bar counts only the prompts that will really run.
import { readFileSync, statSync } from "node:fs";
import { z } from "zod";
import type { ChatMessage } from "../createGuard.js";
import { UserError, describeZodError } from "../errors.js";
import type { GuardOptions } from "../search/options.js";
import { batchGuardSchema, resolveRequestSettings, type ResolvedRequestSettings } from "../request/guardSettings.js";
import { messageSchema, toChatMessages } from "../chatMessages.js";
import { oneLine } from "../util/oneLine.js";

/** A UTF-16 surrogate without its pair: such a string is no text (it has no UTF-8 form, and no URL-safe job id in the queue). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const batchIdSchema = z.union(
  [z.string().min(1).refine((id) => !LONE_SURROGATE.test(id), "id must be text without lone surrogates (\\ud800-\\udfff alone)"), z.int()],
  { error: "id must be a non-empty string or an integer" },
);
export type BatchId = z.infer<typeof batchIdSchema>;

export { batchGuardSchema };

export const batchLineSchema = z
  .object({
    id: batchIdSchema,
    prompt: z.string().min(1).optional(),
    messages: z.array(messageSchema).min(1).optional(),
    guard: batchGuardSchema.optional(),
  })
  .strict()
  .refine((line) => (line.prompt === undefined) !== (line.messages === undefined), { message: "give exactly one of prompt or messages" });

export interface BatchJob {
  /** 1-based line number in the input file. */
  line: number;
  id: BatchId;
  /** The id as a map key that tells 1 from "1". */
  key: string;
  input: string | ChatMessage[];
  settings: ResolvedRequestSettings;
}

export interface InputProblem {
  line: number;
  message: string;
}

export interface BatchInput {
  jobs: BatchJob[];
  problems: InputProblem[];
}

export function idKey(id: BatchId): string {
  return typeof id === "number" ? `#${id}` : `"${id}`;
}

export interface ParseContext {
  defaults: GuardOptions;
  /** Method for lines that do not choose one. */
  method: "guard" | "sample" | "greedy";
  /** Cost model names lines may pick. */
  costNames: readonly string[];
  /** The reward model names rows may pick (undefined: not checked here; the worker checks). */
  rewardNames?: readonly string[];
}

/** Parses JSONL text into jobs and per-line problems. Blank lines are ignored. */
export function parseBatchInput(text: string, context: ParseContext): BatchInput {
  const jobs: BatchJob[] = [];
  const problems: InputProblem[] = [];
  const firstLineOf = new Map<string, number>();
  // Editors on Windows often save UTF-8 with a byte-order mark: it is not part of line 1's JSON.
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  lines.forEach((raw, index) => {
    const line = index + 1;
    const source = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (source.trim() === "") return;
    // One line each, whatever the input's keys and values hold (see oneLine).
    const problem = (message: string): void => void problems.push({ line, message: oneLine(message) });
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      return problem(`not valid JSON (${(error as Error).message})`);
    }
    const parsed = batchLineSchema.safeParse(value);
    if (!parsed.success) return problem(describeZodError(parsed.error));
    const { id, prompt, messages, guard } = parsed.data;
    const key = idKey(id);
    const first = firstLineOf.get(key);
    if (first !== undefined) return problem(`duplicate id ${JSON.stringify(id)} (first on line ${first})`);
    firstLineOf.set(key, line);
    const { maxTokens, temperature, topP, seed, ...field } = guard ?? {};
    const settings = resolveRequestSettings({ method: context.method, ...field }, { maxTokens, temperature, topP, seed }, context.defaults);
    if ("error" in settings) return problem(settings.error);
    if (settings.costName !== undefined && !context.costNames.includes(settings.costName)) {
      return problem(`guard.cost: unknown cost model ${JSON.stringify(settings.costName)} (available: ${context.costNames.join(", ")})`);
    }
    const rewardName = settings.options.rewardName;
    if (rewardName !== undefined && context.rewardNames !== undefined && !context.rewardNames.includes(rewardName)) {
      return problem(`guard.reward: unknown reward model ${JSON.stringify(rewardName)} (available: ${context.rewardNames.join(", ")})`);
    }
    jobs.push({ line, id, key, input: prompt ?? toChatMessages(messages!), settings });
  });
  return { jobs, problems };
}

/** Reads and parses the input file; a missing or unreadable file is a UserError. */
export function readBatchInput(path: string, context: ParseContext): BatchInput {
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new UserError(`--in ${path} is a folder, not a JSONL file`);
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof UserError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(code === "ENOENT" ? `input file not found: ${path}` : `cannot read input file ${path}: ${(error as Error).message}`);
  }
  return parseBatchInput(text, context);
}
