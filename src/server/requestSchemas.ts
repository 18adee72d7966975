// Zod schemas of the OpenAI-compatible request bodies the server accepts. Every standard field of
// OpenAI's chat and legacy completions requests is known: what the guard can honour is honoured
// (max_tokens, temperature, top_p, seed, stop, stream, stream_options, n = 1, user, echo); fields
// that do not change the answer are accepted (store, metadata, service_tier, prediction, ...); the
// rest are accepted at their neutral values (frequency_penalty 0, logprobs false, response_format
// text, no tools, ...) and any other value is refused with a 400 that says why, rather than
// ignored so that the client believes it took effect. A key that is no standard field is refused
// too (a typo should not pass silently).
import { z } from "zod";
import { guardFieldSchema } from "../request/guardSettings.js";
import { messageSchema, neutralOnly } from "../chatMessages.js";

export { messageSchema, toChatMessages } from "../chatMessages.js";

const NO_PENALTIES = "only 0 is supported (repetition penalties are not implemented and would change the answer)";
const NO_TOOLS = "this server has no tool calling";

/** Fields both endpoints share; sampling ranges follow OpenAI's. */
const commonShape = {
  /** Any name: the server answers with its one model (as llama.cpp's server does), and says which in `model`. */
  model: z.string().min(1),
  max_tokens: z.int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: z.int().min(0).max(Number.MAX_SAFE_INTEGER).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish(), include_obfuscation: z.boolean().nullish() }).strict().nullish(),
  n: z.literal(1, "only n = 1 is supported (one answer per request)").nullish(),
  /** Up to 4 sequences (OpenAI's limit): the answer ends before the first one. */
  stop: z.preprocess(
    (stop) => (typeof stop === "string" ? [stop] : stop),
    z.array(z.string().min(1, "a stop sequence must not be empty"), { error: "expected a string or a list of strings" }).max(4, "at most 4 stop sequences").nullish(),
  ),
  /** The end user's id: logged with the request. */
  user: z.string().nullish(),
  frequency_penalty: neutralOnly(z.number().min(-2).max(2), (v) => v === 0, NO_PENALTIES),
  presence_penalty: neutralOnly(z.number().min(-2).max(2), (v) => v === 0, NO_PENALTIES),
  logit_bias: neutralOnly(z.record(z.string(), z.number()), (bias) => Object.keys(bias).length === 0, "only an empty logit_bias is supported"),
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
    logprobs: neutralOnly(z.boolean(), (v) => v === false, "logprobs are not supported (the answer is chosen among candidate blocks; per-token log-probabilities are not returned)"),
    top_logprobs: neutralOnly(z.int().min(0).max(20), (v) => v === 0, "top_logprobs are not supported (only 0)"),
    response_format: neutralOnly(
      z.object({ type: z.string() }).loose(),
      (format) => format.type === "text",
      'only response_format {type: "text"} is supported (no constrained decoding for JSON)',
    ),
    tools: neutralOnly(z.array(z.unknown()), (tools) => tools.length === 0, `tools are not supported (${NO_TOOLS})`),
    tool_choice: neutralOnly(z.unknown(), (choice) => choice === "none" || choice === "auto", `only tool_choice "none" or "auto" is supported (${NO_TOOLS})`),
    parallel_tool_calls: z.boolean().nullish(),
    functions: neutralOnly(z.array(z.unknown()), (functions) => functions.length === 0, `functions are not supported (${NO_TOOLS})`),
    function_call: neutralOnly(z.unknown(), (call) => call === "none" || call === "auto", `only function_call "none" or "auto" is supported (${NO_TOOLS})`),
    modalities: neutralOnly(z.array(z.string()), (m) => m.every((x) => x === "text"), 'only modalities ["text"] are supported'),
    audio: neutralOnly(z.unknown(), () => false, "audio output is not supported"),
    reasoning_effort: neutralOnly(z.string(), () => false, "reasoning_effort is not supported (the model has no separate reasoning phase)"),
    verbosity: neutralOnly(z.string(), (v) => v === "medium", 'only verbosity "medium" is supported'),
    web_search_options: neutralOnly(z.unknown(), () => false, "web search is not supported"),
    // These do not change the answer: accepted and not used.
    store: z.boolean().nullish(),
    metadata: z.record(z.string(), z.string()).nullish(),
    service_tier: z.string().nullish(),
    prediction: z.unknown().optional(),
    prompt_cache_key: z.string().nullish(),
    safety_identifier: z.string().nullish(),
  })
  .strict();

export const completionRequestSchema = z
  .object({
    ...commonShape,
    // One prompt per request: the guard answers one prompt at a time.
    prompt: z.union([z.string(), z.array(z.string()).length(1)], { error: "expected a string (one prompt per request)" }),
    /** Prepend the prompt to the answer's text. */
    echo: z.boolean().nullish(),
    best_of: z.literal(1, "only best_of = 1 is supported (one answer per request)").nullish(),
    logprobs: neutralOnly(z.int().min(0).max(5), () => false, "logprobs are not supported (the answer is chosen among candidate blocks; per-token log-probabilities are not returned)"),
    suffix: neutralOnly(z.string(), (s) => s === "", "suffix (insertion) is not supported"),
  })
  .strict();

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

/** OpenAI's `stop` (a string, a list, or null) → the library's list. */
export function stopSequences(stop: string | string[] | null | undefined): string[] | undefined {
  if (stop === null || stop === undefined) return undefined;
  return typeof stop === "string" ? [stop] : stop;
}
