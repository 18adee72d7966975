// What OpenAI clients send: every standard field is known; neutral values of what the guard cannot
// honour are accepted, other values refused with why; unknown keys are named.
import { chatCompletionRequestSchema, completionRequestSchema, stopSequences, toChatMessages } from "../../src/server/requestSchemas.js";
import { describeZodError } from "../../src/errors.js";

const chat = { model: "gpt-4o-mini", messages: [{ role: "user", content: "Tell me a story" }] };
const completion = { model: "gpt-3.5-turbo-instruct", prompt: "Once upon a time" };

function problem(schema: typeof chatCompletionRequestSchema | typeof completionRequestSchema, body: object): string | null {
  const r = schema.safeParse(body);
  return r.success ? null : describeZodError(r.error);
}

test("any model name, and the fields clients send by default at their neutral values, are accepted", () => {
  const neutral = {
    frequency_penalty: 0, presence_penalty: 0, logprobs: false, top_logprobs: 0, response_format: { type: "text" }, n: 1,
    user: "user-42", stream: false, stream_options: { include_usage: true, include_obfuscation: false }, logit_bias: {},
    tools: [], tool_choice: "none", parallel_tool_calls: true, functions: [], function_call: "auto", modalities: ["text"], audio: null,
    store: false, metadata: { app: "x" }, service_tier: "auto", prediction: { type: "content", content: "x" }, prompt_cache_key: "k",
    safety_identifier: "s", verbosity: "medium", reasoning_effort: null, web_search_options: null, max_completion_tokens: 64, max_tokens: null,
    temperature: 1, top_p: 1, seed: 1, stop: null,
  };
  expect(problem(chatCompletionRequestSchema, { ...chat, ...neutral })).toBeNull();
  expect(
    problem(completionRequestSchema, {
      ...completion, frequency_penalty: 0, presence_penalty: 0, logprobs: null, echo: false, best_of: 1, suffix: null, n: 1, user: "u", logit_bias: {}, stop: ["\n"],
    }),
  ).toBeNull();
});

test.each([
  [{ frequency_penalty: 0.5 }, /frequency_penalty: only 0 is supported \(repetition penalties/],
  [{ presence_penalty: -1 }, /presence_penalty: only 0 is supported/],
  [{ logprobs: true }, /logprobs: logprobs are not supported/],
  [{ top_logprobs: 3 }, /top_logprobs/],
  [{ response_format: { type: "json_object" } }, /response_format: only response_format \{type: "text"\} is supported/],
  [{ tools: [{ type: "function", function: { name: "f" } }] }, /tools: tools are not supported \(this server has no tool calling\)/],
  [{ tool_choice: "required" }, /tool_choice/],
  [{ n: 2 }, /n: only n = 1 is supported/],
  [{ logit_bias: { "50256": -100 } }, /logit_bias: only an empty logit_bias/],
  [{ modalities: ["text", "audio"] }, /modalities/],
  [{ reasoning_effort: "high" }, /reasoning_effort is not supported/],
  [{ stop: ["a", "b", "c", "d", "e"] }, /at most 4 stop sequences/],
  [{ stop: "" }, /stop\.0: a stop sequence must not be empty/],
  [{ temperature: 3 }, /temperature/],
  [{ messages: [{ role: "tool", content: "42", tool_call_id: "x" }] }, /messages\.0\.role: tool messages are not supported/],
  [{ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] }, /content parts of type "image_url" are not supported/],
  [{ messages: [{ role: "user", content: 5 }] }, /messages\.0\.content: expected a string or a list of \{type: "text", text\} parts/],
  [{ frobnicate: true }, /frobnicate/],
])("chat: %j is refused with why", (extra, message) => {
  expect(problem(chatCompletionRequestSchema, { ...chat, ...extra })).toMatch(message);
});

test.each([
  [{ suffix: "end" }, /suffix \(insertion\) is not supported/],
  [{ logprobs: 2 }, /logprobs are not supported/],
  [{ best_of: 3 }, /best_of = 1/],
  [{ prompt: ["a", "b"] }, /one prompt per request/],
])("completions: %j is refused with why", (extra, message) => {
  expect(problem(completionRequestSchema, { ...completion, ...extra })).toMatch(message);
});

test("message content: text parts joined, null read as empty, developer as system", () => {
  const body = chatCompletionRequestSchema.parse({
    ...chat,
    messages: [
      { role: "developer", content: [{ type: "text", text: "Be " }, { type: "text", text: "kind." }] },
      { role: "assistant", content: null, refusal: null },
      { role: "user", content: "Hi", name: "ann" },
    ],
  });
  expect(toChatMessages(body.messages)).toEqual([
    { role: "system", content: "Be kind." },
    { role: "assistant", content: "" },
    { role: "user", content: "Hi" },
  ]);
  expect([stopSequences("\n"), stopSequences(["a", "b"]), stopSequences(null)]).toEqual([["\n"], ["a", "b"], undefined]);
});
