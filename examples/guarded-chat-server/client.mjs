// Asks the example server one question and prints the answer as it streams in.
//   node client.mjs "How do I bake bread?"        (URL=http://127.0.0.1:8787 by default)
const question = process.argv[2] ?? "How do I bake bread?";
const url = process.env.URL ?? "http://127.0.0.1:8787";

const response = await fetch(`${url}/chat`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ messages: [{ role: "user", content: question }], maxTokens: Number(process.env.MAX_TOKENS ?? 128) }),
});
if (!response.ok) {
  console.error(`${response.status}: ${(await response.json()).error}`);
  process.exit(1);
}

let pending = "";
const decoder = new TextDecoder();
for await (const chunk of response.body) {
  pending += decoder.decode(chunk, { stream: true });
  let end;
  while ((end = pending.indexOf("\n")) >= 0) {
    const event = JSON.parse(pending.slice(0, end));
    pending = pending.slice(end + 1);
    if (event.type === "text") process.stdout.write(event.text);
    else if (event.type === "done") console.error(`\n[cost ${event.cost.toFixed(3)} of budget ${event.budget}, ${event.withinBudget ? "within budget" : "OVER BUDGET"}, stop: ${event.stopReason}]`);
    else if (event.type === "error") {
      console.error(`\nerror: ${event.message}`);
      process.exitCode = 1;
    }
  }
}
