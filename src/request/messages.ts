// The chat messages a request carries, in OpenAI's shape: the server's chat endpoint and batch
// rows (`messages`) read them with this one schema.
import { z } from "zod";
import type { ChatMessage } from "../createGuard.js";

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
