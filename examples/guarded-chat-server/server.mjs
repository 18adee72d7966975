// A small backend that answers chat requests with guarded answers and streams them to its caller,
// as a desktop app's local service (or an Electron main process) would. Every answer is charged by
// the package's harm classifier and never exceeds its budget (0.5: the answer's harm probability
// never rises above one half), the library's default for chat messages.
//
//   MODEL=path/to/chat-model.gguf PORT=8787 node server.mjs
//   curl -N localhost:8787/chat -d '{"messages":[{"role":"user","content":"Hi"}]}'
//
// POST /chat {messages, maxTokens?} answers with newline-delimited JSON events:
//   {"type":"text","text":"..."}   text the guard has committed (it never takes it back)
//   {"type":"done","cost":0.02,"budget":0.5,"withinBudget":true,"stopReason":"eog",...}
//   {"type":"error","message":"..."}
// A request the library refuses (a malformed message) gets a 400 before any event. A caller that
// goes away stops its generation between blocks.
import { createServer } from "node:http";
import { UserError, createGuard, parseChatMessages } from "inference-guard";

const port = Number(process.env.PORT ?? 8787);
const MAX_BODY = 64 * 1024;
const MAX_TOKENS = 512;

// One model for the whole process; two requests at once share each decode, more wait their turn.
// Without MODEL it is the small story model the package ships: fine to try, not an assistant.
const guard = await createGuard({ model: process.env.MODEL || undefined, parallel: 2 });
for (const warning of guard.warnings) console.warn(`inference-guard: ${warning}`);

function readBody(request) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    request.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) reject(new UserError(`the body is over ${MAX_BODY} bytes`));
      else chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function sendJson(response, status, body) {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body) + "\n");
}

async function chat(request, response) {
  let messages;
  let maxTokens;
  try {
    const body = JSON.parse(await readBody(request));
    // The same check generate() makes, done first so a bad request gets a 400, not a broken stream.
    messages = parseChatMessages(body?.messages);
    maxTokens = Math.min(MAX_TOKENS, Number.isInteger(body?.maxTokens) && body.maxTokens > 0 ? body.maxTokens : 128);
  } catch (error) {
    return sendJson(response, 400, { error: error instanceof SyntaxError ? "the body is not JSON" : error.message });
  }
  const stop = new AbortController();
  response.on("close", () => {
    if (!response.writableFinished) stop.abort();
  });
  response.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
  const send = (event) => response.write(JSON.stringify(event) + "\n");
  try {
    const result = await guard.generate(messages, {
      maxTokens,
      signal: stop.signal,
      onText: (text) => send({ type: "text", text }),
    });
    const { cost, budget, withinBudget, stopReason, fallback, tokens, warning } = result;
    send({ type: "done", cost, budget, withinBudget, stopReason, fallback, tokens, ...(warning ? { warning } : {}) });
  } catch (error) {
    send({ type: "error", message: error instanceof UserError ? error.message : "the answer failed" });
    if (!(error instanceof UserError)) console.error(error);
  }
  response.end();
}

const server = createServer((request, response) => {
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  if (request.method === "GET" && path === "/health") return sendJson(response, 200, { ok: true, model: guard.engine.info.modelPath });
  if (request.method === "POST" && path === "/chat") return void chat(request, response);
  sendJson(response, 404, { error: "POST /chat or GET /health" });
});

server.listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${server.address().port}`));

// Stop taking requests, let the running answers finish, then free the model.
async function shutdown() {
  server.close();
  server.closeIdleConnections?.();
  await guard.dispose();
  process.exit(0);
}
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
