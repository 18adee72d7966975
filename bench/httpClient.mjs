// The HTTP client of bench/httpConcurrency.ts, in its own process (as a user's clients are): reads
// one JSON command per stdin line, {id, url, mode: "together" | "in-a-row", bodies: [...]}, sends
// the bodies to url (POST, JSON) all at once or one after another on keep-alive connections, and
// writes one JSON line per command: {id, ms, answers: [{status, text, usage, sentAt, doneAt}]},
// ms from the first send to the last answer read. Streamed bodies (stream: true) are read to
// [DONE]; their text is the concatenation of the chunks.
import { Agent, request } from "node:http";
import { createInterface } from "node:readline";

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function post(url, body) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const sentAt = performance.now();
    const req = request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } }, (res) => {
      let raw = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (raw += chunk));
      res.on("end", () => {
        const doneAt = performance.now();
        try {
          if (body.stream) {
            let text = "";
            let usage = null;
            for (const line of raw.split("\n")) {
              if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
              const event = JSON.parse(line.slice(6));
              const choice = event.choices?.[0];
              if (choice) text += choice.text ?? choice.delta?.content ?? "";
              if (event.usage) usage = event.usage;
            }
            resolve({ status: res.statusCode, text, usage, sentAt, doneAt });
          } else {
            const json = JSON.parse(raw);
            const choice = json.choices?.[0];
            resolve({ status: res.statusCode, text: choice?.text ?? choice?.message?.content ?? "", usage: json.usage ?? null, error: json.error?.message, sentAt, doneAt });
          }
        } catch (error) {
          reject(new Error(`status ${res.statusCode}: ${error.message}: ${raw.slice(0, 200)}`));
        }
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() === "") continue;
  const cmd = JSON.parse(line);
  try {
    const t0 = performance.now();
    let answers;
    if (cmd.mode === "together") answers = await Promise.all(cmd.bodies.map((b) => post(cmd.url, b)));
    else {
      answers = [];
      for (const b of cmd.bodies) answers.push(await post(cmd.url, b));
    }
    const ms = performance.now() - t0;
    for (const a of answers) {
      a.sentAt -= t0;
      a.doneAt -= t0;
    }
    process.stdout.write(`${JSON.stringify({ id: cmd.id, ms, answers })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ id: cmd.id, error: error.message })}\n`);
  }
}
agent.destroy();
