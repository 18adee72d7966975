// Prompt files an evaluation reads:
//   .jsonl  one object per line: {"prompt": "..."} or {"messages": [{"role", "content"}, ...]},
//           optionally with "label": "harmful" | "harmless" (blank lines are skipped)
//   .json   an array of the same objects, or of {"instruction", "category"} as in
//           ../shared/data/safety/prompts/*.json (a category marks a harmful request, null a harmless one)
// Every mistake is a one-line UserError naming the file (and line).
import { createHash } from "node:crypto";
import { readUserFile } from "../util/files.js";
import { parseJsonLines } from "../util/jsonLines.js";
import { z } from "zod";
import type { Engine } from "../engine/engine.js";
import { UserError, describeZodError } from "../errors.js";

export const PROMPT_LABELS = ["harmful", "harmless"] as const;
export type PromptLabel = (typeof PROMPT_LABELS)[number];

const messageSchema = z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() }).strict();
const labelSchema = z.enum(PROMPT_LABELS).optional();
const completionEntry = z.object({ prompt: z.string().min(1, "prompt must not be empty"), label: labelSchema }).loose();
const chatEntry = z.object({ messages: z.array(messageSchema).min(1, "messages must not be empty"), label: labelSchema }).loose();
const instructionEntry = z.object({ instruction: z.string().min(1, "instruction must not be empty"), category: z.string().nullable().optional() }).loose();
const promptEntrySchema = z.union([completionEntry, chatEntry, instructionEntry]);
type PromptEntry = z.infer<typeof promptEntrySchema>;

export type ChatMessage = z.infer<typeof messageSchema>;

export interface EvalPrompt {
  /** Position in the file (0-based): the record key. */
  index: number;
  /** A completion prompt, or the user message with --chat. */
  text?: string;
  /** A whole conversation (always rendered with the chat template). */
  messages?: ChatMessage[];
  label?: PromptLabel;
  /** Identifies the prompt's content, so a resumed run notices a changed prompts file. */
  hash: string;
}

export interface ReadPromptsOptions {
  /** Take the first `limit` prompts. */
  limit?: number;
  /** Label every prompt (overrides the file's labels). */
  label?: PromptLabel;
}

export function readEvalPrompts(path: string, options: ReadPromptsOptions = {}): EvalPrompt[] {
  const raw = readUserFile(path, "prompts file", "utf8");
  const expected = 'expected {"prompt": TEXT}, {"messages": [...]} or {"instruction": TEXT}';
  let entries: PromptEntry[];
  if (/^\s*\[/.test(raw)) {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (error) {
      throw new UserError(`prompts file ${path} is not valid JSON: ${(error as Error).message}`);
    }
    entries = (json as unknown[]).map((value, i) => {
      const parsed = promptEntrySchema.safeParse(value);
      if (!parsed.success) throw new UserError(`${path}: entry ${i}: ${expected} (${describeZodError(parsed.error)})`);
      return parsed.data;
    });
  } else {
    entries = parseJsonLines(raw, path, {
      shape: 'one {"prompt": "..."} object',
      schema: promptEntrySchema,
      describe: (error) => `${expected} (${describeZodError(error)})`,
    });
  }
  if (entries.length === 0) throw new UserError(`prompts file ${path} has no prompts`);
  const taken = options.limit === undefined ? entries : entries.slice(0, options.limit);
  return taken.map((entry, index) => toPrompt(entry, index, options.label));
}

function toPrompt(entry: PromptEntry, index: number, forced?: PromptLabel): EvalPrompt {
  let text: string | undefined;
  let messages: ChatMessage[] | undefined;
  let label: PromptLabel | undefined;
  const completion = completionEntry.safeParse(entry);
  const chat = chatEntry.safeParse(entry);
  if (completion.success) {
    text = completion.data.prompt;
    label = completion.data.label;
  } else if (chat.success) {
    messages = chat.data.messages;
    label = chat.data.label;
  } else {
    const instruction = instructionEntry.parse(entry);
    text = instruction.instruction;
    label = instruction.category ? "harmful" : "harmless";
  }
  const hash = createHash("sha256")
    .update(JSON.stringify(messages ?? text))
    .digest("hex")
    .slice(0, 16);
  const chosen = forced ?? label;
  return { index, ...(text !== undefined ? { text } : { messages }), ...(chosen ? { label: chosen } : {}), hash };
}

/** Prompt tokens: a conversation or (with chat) a user message through the model's template, else plain text. */
export function promptTokens(engine: Engine, prompt: EvalPrompt, o: { chat: boolean; system?: string }): number[] {
  const system = o.system ? [{ role: "system" as const, content: o.system }] : [];
  if (prompt.messages) return engine.chatPrompt([...system, ...prompt.messages]);
  if (o.chat) return engine.chatPrompt([...system, { role: "user", content: prompt.text! }]);
  return engine.completionPrompt(prompt.text!);
}
