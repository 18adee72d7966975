// The prompt a library caller hands to guard.generate(), checked before it reaches the chat
// template: chat messages with the same schema the server's chat endpoint and batch rows use
// (src/request/messages.ts), so the library accepts and refuses what they do. OpenAI's text-part
// arrays are joined into text and `developer` is read as `system`; a `tool` message, a missing
// `content` or an image part is a UserError naming the message, never "[object Object]" in the
// prompt or a turn silently dropped.
import { z } from "zod";
import type { ChatMessage } from "./createGuard.js";
import { UserError, describeZodError } from "./errors.js";
import { messageSchema, toChatMessages } from "./request/messages.js";

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
