// --model on every command that loads a model: a GGUF path, or a known model's name resolved to
// its fetched file (a one-line "not fetched yet: run ..." when it is not). With no --model a
// command started for chat prompts gets the default chat model, a completion one stories260K.
import { DEFAULT_CHAT_MODEL, resolveModel } from "../models/index.js";
import { MODEL_ENV, defaultModelPath } from "../paths.js";
import { stringFlag } from "./args.js";

/** --model resolved; with none, the chat default when `chat` (else undefined: the library's default applies). */
export function modelFlag(values: Record<string, unknown>, chat = false): string | undefined {
  return resolveModel(stringFlag(values, "model")) ?? (chat ? defaultModelPath({ chat: true }) : undefined);
}

/** --model resolved, else the default model for the prompt kind. */
export function modelFlagOrDefault(values: Record<string, unknown>, chat = false): string {
  return modelFlag(values, chat) ?? defaultModelPath();
}

/**
 * The --model help lines, text from `column` on; `chat` says when the chat default applies
 * ("--chat": with that flag, "always": the command is for chat models, "never").
 */
export function modelHelp(column: number, chat: "--chat" | "always" | "never", what = "GGUF model"): string {
  const pad = " ".repeat(column);
  const fallback = chat === "always" ? `${DEFAULT_CHAT_MODEL} once fetched` : chat === "--chat" ? `stories260K (--chat: ${DEFAULT_CHAT_MODEL})` : "stories260K";
  return [
    `  ${"--model PATH|NAME".padEnd(column - 2)}${what}: a file, or a fetched model's name`,
    `${pad}(${DEFAULT_CHAT_MODEL}: see \`inference-guard models\`);`,
    `${pad}default: $${MODEL_ENV}, else ${fallback}`,
  ].join("\n");
}
