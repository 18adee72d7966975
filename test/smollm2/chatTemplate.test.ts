// The chat prompt the engine renders for SmolLM2 is the GGUF's own `tokenizer.chat_template`
// rendered by an independent Jinja implementation (@huggingface/jinja, the one transformers.js
// uses), as text and as token ids. Comparing with node-llama-cpp's chat wrapper could not fail:
// the engine renders through it. (Before this test, node-llama-cpp's "auto" picked its ChatML
// wrapper, which doubled the BOS <|im_start|> and dropped the template's default system prompt.)
import { Template } from "@huggingface/jinja";
import { readGgufFileInfo } from "node-llama-cpp";
import { Engine } from "../../src/engine/engine.js";
import { smollm2Path } from "../helpers/smollm2.js";

type Message = { role: "system" | "user" | "assistant"; content: string };

const MODEL = smollm2Path();
let engine: Engine;
let template: Template;
/** The special tokens transformers hands a chat template, as the GGUF names them. */
let specialTokens: { bos_token: string; eos_token: string };

beforeAll(async () => {
  // The template and the token table straight from the file, through node-llama-cpp's GGUF
  // reader alone (not the loaded model's chat machinery).
  const info = await readGgufFileInfo(MODEL, { readTensorInfo: false, logWarnings: false });
  const tokenizer = (info.metadata as { tokenizer: { chat_template: string; ggml: { tokens: readonly string[]; bos_token_id: number; eos_token_id: number } } }).tokenizer;
  template = new Template(tokenizer.chat_template);
  specialTokens = { bos_token: tokenizer.ggml.tokens[tokenizer.ggml.bos_token_id]!, eos_token: tokenizer.ggml.tokens[tokenizer.ggml.eos_token_id]! };
  engine = await Engine.load({ modelPath: MODEL, maxSequences: 1, contextSize: 512 });
});
afterAll(async () => engine?.dispose());

function render(messages: Message[], addGenerationPrompt: boolean): string {
  return template.render({ messages, add_generation_prompt: addGenerationPrompt, ...specialTokens });
}

/** Text of token ids with special tokens written out, as the template writes them. */
function text(tokens: readonly number[]): string {
  return engine.model.detokenize(tokens as never, true);
}

const CASES: Array<[string, Message[]]> = [
  ["a single user turn", [{ role: "user", content: "What is the capital of France?" }]],
  [
    "a system message and a user turn",
    [
      { role: "system", content: "You answer in one short sentence." },
      { role: "user", content: "How do plants make food?" },
    ],
  ],
  [
    "multi-turn with a system message",
    [
      { role: "system", content: "You are a patient tutor." },
      { role: "user", content: "What is 2 + 2?" },
      { role: "assistant", content: "2 + 2 is 4." },
      { role: "user", content: "And times 3?\nShow the steps." },
    ],
  ],
  [
    "multi-turn with no system message (the template decides what comes first)",
    [
      { role: "user", content: "Name a primary colour." },
      { role: "assistant", content: "Red." },
      { role: "user", content: "Another one, please." },
    ],
  ],
];

test.each(CASES)("%s: the template's text and tokens", (_name, messages) => {
  const expected = render(messages, true);
  const tokens = engine.chatPrompt(messages);
  expect(text(tokens)).toBe(expected);
  // Special tokens parsed as the model's tokenizer does: no BOS added or doubled around them.
  expect(tokens).toEqual(engine.model.tokenize(expected, true));
});

test("a final assistant message is continued: the template's prompt for the turns before it, then its text unclosed", () => {
  const before: Message[] = [{ role: "user", content: "Is the sky blue?" }];
  const tokens = engine.chatPrompt([...before, { role: "assistant", content: "Yes" }]);
  expect(text(tokens)).toBe(render(before, true) + "Yes");
  // The closed turn is what the template writes without a generation prompt; the engine's prompt
  // stops before its end-of-turn, so the model goes on with that answer.
  expect(render([...before, { role: "assistant", content: "Yes" }], false).startsWith(text(tokens))).toBe(true);
});
