// Requests through the HTTP server share decodes as the library's do (80724b3): counted by the
// guard's own decode counter, not inferred from several requests being "running" at once (they
// could run interleaved and share nothing). Real sockets on loopback, since what broke sharing
// was a decode loop that held off the sockets of requests arriving meanwhile.
import { createGuardServer, type GuardServer } from "../../src/server/index.js";
import { STORIES_MODEL } from "../helpers/models.js";

const PROMPTS = ["Once upon a time", "The little dog", "Lily and Ben went to the park", "One sunny day"];
const body = (prompt: string, i: number) => ({ model: "m", prompt, max_tokens: 48, seed: 30 + i, ignore_eos: true });

let server: GuardServer;
let url: string;
beforeAll(async () => {
  server = await createGuardServer({ model: STORIES_MODEL, threads: 1, port: 0, parallel: 4, defaults: { beams: 2, samples: 4, width: 4 } });
  url = await server.listen();
});
afterAll(async () => server?.close({ graceSeconds: 0 }));

async function complete(prompt: string, i: number): Promise<string> {
  const res = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body(prompt, i)) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { choices: Array<{ text: string }> }).choices[0]!.text;
}

test("concurrent HTTP requests share decodes: fewer than half the decodes of one at a time, several rows each, the same answers", async () => {
  const count = async (run: () => Promise<string[]>) => {
    const before = { ...server.guard.decodeStats };
    const texts = await run();
    return { texts, decodes: server.guard.decodeStats.decodes - before.decodes, rows: server.guard.decodeStats.rows - before.rows };
  };
  const alone = await count(async () => {
    const texts: string[] = [];
    for (const [i, p] of PROMPTS.entries()) texts.push(await complete(p, i));
    return texts;
  });
  const together = await count(() => Promise.all(PROMPTS.map(complete)));
  expect(together.texts).toEqual(alone.texts);
  expect(together.rows).toBe(alone.rows); // the same work...
  // ...in shared decodes: four requests in step would need a quarter; one after another, all of them.
  expect(together.decodes).toBeLessThan(alone.decodes / 2);
});
