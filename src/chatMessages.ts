// Chat messages, in one module below the library API: the library's ChatMessage, OpenAI's message
// shape as the server's chat endpoint and batch rows (`messages`) carry it, and the check of a
// prompt a library caller hands to guard.generate() with the same schema, so the library accepts
// and refuses what they do. OpenAI's text-part arrays are joined into text and `developer` is read
// as `system`; a `tool` message, a missing `content` or an image part is a UserError naming the
// message, never "[object Object]" in the prompt or a turn silently dropped.
import { z } from "zod";
import { UserError, describeZodError } from "./errors.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/**
 * A standard field the guard cannot honour: absent, null or one of its neutral values is fine;
 * any other value would change the answer, so it is refused with `why`.
 */
export function neutralOnly<S extends z.ZodType>(schema: S, isNeutral: (value: z.output<S>) => boolean, why: string) {
  return schema.nullish().refine((value) => value === null || value === undefined || isNeutral(value as z.output<S>), { message: why });
}

const contentPartSchema = z
  .object({ type: z.string(), text: z.string().optional() })
  .loose()
  .superRefine((part, ctx) => {
    if (part.type !== "text") ctx.addIssue({ code: "custom", message: `content parts of type ${JSON.stringify(part.type)} are not supported (only text: this model reads text)` });
    else if (part.text === undefined) ctx.addIssue({ code: "custom", message: 'a text part needs "text"', path: ["text"] });
  });

export const messageSchema = z
  .object({
    // "developer" is OpenAI's newer name for the system role.
    role: z.enum(["system", "developer", "user", "assistant"], {
      error: (issue) =>
        issue.input === "tool" || issue.input === "function"
          ? `${String(issue.input)} messages are not supported (this server has no tool calling)`
          : "role must be system, developer, user or assistant",
    }),
    // null content is OpenAI's shape for an assistant turn that only called tools; read as empty.
    content: z.union([z.string(), z.null(), z.array(contentPartSchema).min(1)], {
      error: (issue) => (issue.code === "invalid_union" ? 'expected a string or a list of {type: "text", text} parts' : undefined),
    }),
    name: z.string().optional(),
    /** An earlier assistant turn's refusal note (OpenAI echoes it back); not part of the prompt. */
    refusal: z.string().nullish(),
    tool_calls: neutralOnly(z.array(z.unknown()), (calls) => calls.length === 0, "tool_calls are not supported (this server has no tool calling)"),
    function_call: neutralOnly(z.unknown(), () => false, "function_call is not supported (this server has no tool calling)"),
    audio: neutralOnly(z.unknown(), () => false, "audio is not supported (this model reads text)"),
  })
  .strict();

/** OpenAI messages → the library's chat messages (text parts joined, developer → system, null → ""). */
export function toChatMessages(messages: ReadonlyArray<z.infer<typeof messageSchema>>): ChatMessage[] {
  return messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: typeof m.content === "string" ? m.content : m.content === null ? "" : m.content.map((part) => part.text ?? "").join(""),
  }));
}

const messagesSchema = z.array(messageSchema).min(1, "give at least one message");

/** A generate() prompt: a string (completion, or the user's turn with `chat`) or chat messages. */
export type PromptInput = string | ChatMessage[];

/**
 * The chat messages of a prompt as the chat template takes them (text only, roles system, user,
 * assistant), or a UserError that says which message is wrong and how (e.g. `messages.1.role: tool
 * messages are not supported`).
 */
export function parseChatMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages)) throw new UserError(`chat messages must be an array of {role, content} (got ${describe(messages)})`);
  const result = messagesSchema.safeParse(messages);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({ ...issue, path: ["messages", ...issue.path] }));
    throw new UserError(`invalid chat messages: ${describeZodError({ issues })}`);
  }
  return toChatMessages(result.data);
}

/** A prompt checked: a string as it is, messages parsed (see parseChatMessages); anything else is a UserError. */
export function checkPrompt(prompt: unknown): PromptInput {
  if (typeof prompt === "string") return prompt;
  if (Array.isArray(prompt)) return parseChatMessages(prompt);
  throw new UserError(`a prompt is a string or an array of chat messages {role, content} (got ${describe(prompt)})`);
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : typeof value;
}
