// Zod schemas of the OpenAI-compatible request bodies the server accepts. Objects are strict: a
// field this server does not implement (tools, logprobs, n > 1, ...) is refused with a 400 that
// names it, rather than ignored so that the client believes it took effect.
import { z } from "zod";
import type { ChatMessage } from "../createGuard.js";
import { guardFieldSchema } from "./guardSettings.js";

const textPartSchema = z.object({ type: z.literal("text"), text: z.string() }).strict();

export const messageSchema = z
  .object({
    // "developer" is OpenAI's newer name for the system role.
    role: z.enum(["system", "developer", "user", "assistant"]),
    content: z.union([z.string(), z.array(textPartSchema).min(1)], { error: "expected a string or a list of {type: \"text\", text} parts" }),
    name: z.string().optional(),
  })
  .strict();

/** Fields both endpoints share; sampling ranges follow OpenAI's. */
const commonShape = {
  model: z.string().min(1),
  max_tokens: z.int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: z.int().min(0).max(Number.MAX_SAFE_INTEGER).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).strict().nullish(),
  n: z.literal(1, "only n = 1 is supported").nullish(),
  /** Stop sequences are not implemented; an empty list or null is accepted. */
  stop: z.union([z.null(), z.array(z.string()).max(0)], { error: "stop sequences are not supported" }).optional(),
  user: z.string().optional(),
  /** Never end at end-of-text; always write max_tokens (as vLLM's extra parameter). */
  ignore_eos: z.boolean().optional(),
  /** inference-guard's own settings for this request. */
  guard: guardFieldSchema.optional(),
};

export const chatCompletionRequestSchema = z
  .object({
    ...commonShape,
    messages: z.array(messageSchema).min(1),
    max_completion_tokens: z.int().min(1).nullish(),
  })
  .strict();

export const completionRequestSchema = z
  .object({
    ...commonShape,
    // One prompt per request: the guard answers one prompt at a time.
    prompt: z.union([z.string(), z.array(z.string()).length(1)], { error: "expected a string (one prompt per request)" }),
    echo: z.literal(false, "echo is not supported").optional(),
  })
  .strict();

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

/** OpenAI messages → the library's chat messages (text parts joined, developer → system). */
export function toChatMessages(messages: ChatCompletionRequest["messages"]): ChatMessage[] {
  return messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: typeof m.content === "string" ? m.content : m.content.map((part) => part.text).join(""),
  }));
}
