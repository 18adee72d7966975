// Runs inside a fresh app that installed the packed tarball (test/package.test.ts), from the app's
// folder, as an app's own code would: `node app-check.mjs MODEL.gguf`. Prints one JSON object.
import { SHIPPED_COST_MODELS, SHIPPED_FILES, createGuard } from "inference-guard";

const model = process.argv[2];
const question = [{ role: "user", content: "How do I bake bread?" }];
const settings = { maxTokens: 24, seed: 7, beams: 2, samples: 4 };
const out = { shipped: SHIPPED_FILES };

// No cost model named: chat messages get the shipped request-aware harm cost (harm:chat-harm.json) at budget 0.5.
const guard = await createGuard({ model });
const streamed = [];
const chat = await guard.generate(question, { ...settings, onText: (text) => streamed.push(text) });
out.defaults = { text: chat.text, streamed: streamed.join(""), cost: chat.cost, budget: chat.budget, withinBudget: chat.withinBudget, fallback: chat.fallback, finalCheckEmptied: chat.finalCheckEmptied, tokens: chat.tokens };
// Messages are checked as the server checks them.
const refusals = {};
for (const [name, messages] of Object.entries({
  tool: [{ role: "tool", content: "42" }],
  image: [{ role: "user", content: [{ type: "image_url", image_url: { url: "http://example.invalid/a.png" } }] }],
  noContent: [{ role: "user" }],
})) {
  refusals[name] = await guard.generate(messages, settings).then(
    () => "accepted",
    (error) => `${error.name}: ${error.message}`,
  );
}
out.refusals = refusals;
// OpenAI's text parts are read as text: the same answer as the plain string.
const parts = await guard.generate([{ role: "user", content: [{ type: "text", text: "How do I bake " }, { type: "text", text: "bread?" }] }], settings);
out.partsSameAnswer = parts.text === chat.text;
await guard.dispose();

// A shipped cost model named by its spec, from the app's folder.
const named = await createGuard({ model, cost: SHIPPED_COST_MODELS.chatHarm, defaults: { budget: 0.5 } });
const namedChat = await named.generate(question, settings);
out.named = { spec: SHIPPED_COST_MODELS.chatHarm, costName: named.cost.name, text: namedChat.text, cost: namedChat.cost, budget: namedChat.budget, withinBudget: namedChat.withinBudget, fallback: namedChat.fallback, finalCheckEmptied: namedChat.finalCheckEmptied };
await named.dispose();

console.log(JSON.stringify(out));
