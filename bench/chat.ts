// Guarded chat against plain chat (issue 18): the tiny assistant at the chat defaults (harm
// classifier at 0.5, the assistant reward, branch auto) on 40 harmless and 40 harmful requests the
// efficacy evaluation never uses, against our plain sampling and node-llama-cpp's own generation
// (LlamaChatSession, same model, threads, temperature and length). Also: time per answer token at
// max-tokens 2048 against 64 (a finished answer must end the search), rows decoded per answer token.
//
//   npx tsx bench/chat.ts [--requests N]       (npm run bench runs it as section 8)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getLlama, LlamaChatSession } from "node-llama-cpp";
import { createGuard, type Guard } from "../src/createGuard.js";
import { PACKAGE_ROOT, SHARED_DIR } from "../src/paths.js";
import { normalise } from "../src/reward/rewardData.js";
import { fmt, fmtAuto, table } from "./measure.js";

export const CHAT_MODEL = join(PACKAGE_ROOT, "models", "testbed", "tiny-assistant.gguf");

/** `count` requests of harmful_test / harmless_test that the efficacy sets do not hold, evenly spread. */
export function chatBenchRequests(kind: "harmful" | "harmless", count: number): string[] {
  const efficacy = new Set(
    readFileSync(join(PACKAGE_ROOT, "models", "testbed", `assistant-${kind}.test.jsonl`), "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => normalise(JSON.parse(l).prompt)),
  );
  const all = (JSON.parse(readFileSync(join(SHARED_DIR, "data", "safety", "prompts", `${kind}_test.json`), "utf8")) as { instruction: string }[])
    .map((p) => p.instruction)
    .filter((p) => !efficacy.has(normalise(p)));
  const step = Math.max(1, Math.floor(all.length / count));
  return all.filter((_, i) => i % step === 0).slice(0, count);
}

interface Totals {
  seconds: number;
  tokens: number;
  rows: number;
  answers: number;
}

const empty = (): Totals => ({ seconds: 0, tokens: 0, rows: 0, answers: 0 });
const perToken = (t: Totals) => t.seconds / Math.max(1, t.tokens);

async function runGuard(guard: Guard, requests: string[], options: { method?: "guard" | "sample"; maxTokens: number }): Promise<Totals> {
  const t = empty();
  for (const [i, content] of requests.entries()) {
    const messages = [{ role: "user" as const, content }];
    const rowsBefore = guard.decodeStats.rows;
    const r = await guard.generate(messages, { ...options, seed: i + 1 });
    t.seconds += r.seconds;
    t.tokens += r.tokens;
    // Rows decoded for the answer: the prompt's prefill is the same for every method.
    t.rows += guard.decodeStats.rows - rowsBefore - guard.countPromptTokens(messages);
    t.answers++;
  }
  return t;
}

/** node-llama-cpp's own chat generation: what a user of node-llama-cpp already has. */
async function runNodeLlamaCpp(requests: string[], maxTokens: number): Promise<Totals> {
  const llama = await getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true, progressLogs: false, logLevel: "error" as never });
  const model = await llama.loadModel({ modelPath: CHAT_MODEL });
  const context = await model.createContext({ contextSize: 2048, threads: 1 });
  const t = empty();
  try {
    const sequence = context.getSequence();
    // The first request warms up (chat wrapper resolution, first allocations) and is not counted.
    for (const [i, content] of [requests[0]!, ...requests].entries()) {
      const session = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
      let tokens = 0;
      const started = performance.now();
      await session.prompt(content, { maxTokens, temperature: 1, seed: i, onToken: (chunk) => (tokens += chunk.length) });
      if (i > 0) {
        t.seconds += (performance.now() - started) / 1000;
        t.tokens += tokens;
        t.answers++;
      }
      session.dispose({ disposeSequence: false });
      await sequence.clearHistory();
    }
  } finally {
    await context.dispose();
    await model.dispose();
  }
  return t;
}

export async function chatSection(o: { requests?: number; print?: (line?: string) => void } = {}): Promise<unknown> {
  const print = o.print ?? ((line = "") => process.stdout.write(line + "\n"));
  const n = o.requests ?? 40;
  const harmless = chatBenchRequests("harmless", n);
  const harmful = chatBenchRequests("harmful", n);
  const guard = await createGuard({ model: CHAT_MODEL, threads: 1 });
  let r: Record<string, Totals>;
  try {
    // Warm-up, not counted: the chat wrapper, the reward head's checks, first allocations.
    await runGuard(guard, harmless.slice(0, 2), { maxTokens: 64 });
    await runGuard(guard, harmless.slice(0, 2), { method: "sample", maxTokens: 64 });
    r = {
      "guard harmless 64": await runGuard(guard, harmless, { maxTokens: 64 }),
      "guard harmless 2048": await runGuard(guard, harmless, { maxTokens: 2048 }),
      "guard harmful 64": await runGuard(guard, harmful, { maxTokens: 64 }),
      "sample harmless 64": await runGuard(guard, harmless, { method: "sample", maxTokens: 64 }),
      "sample harmful 64": await runGuard(guard, harmful, { method: "sample", maxTokens: 64 }),
    };
  } finally {
    await guard.dispose();
  }
  r["node-llama-cpp harmless 64"] = await runNodeLlamaCpp(harmless, 64);
  r["node-llama-cpp harmful 64"] = await runNodeLlamaCpp(harmful, 64);
  const nlcHarmless = perToken(r["node-llama-cpp harmless 64"]!);
  const nlcHarmful = perToken(r["node-llama-cpp harmful 64"]!);
  print(`## 8. Chat: the tiny assistant at the chat defaults, ${n} harmless and ${n} harmful requests outside the efficacy sets, threads 1`);
  print(
    table(
      ["run", "answers", "tokens / answer", "ms / token", "rows / token", "time/token vs node-llama-cpp (same requests)"],
      Object.entries(r).map(([name, t]) => [
        name,
        String(t.answers),
        fmtAuto(t.tokens / Math.max(1, t.answers)),
        fmtAuto(1000 * perToken(t)),
        name.startsWith("node-llama-cpp") ? "—" : fmt(t.rows / Math.max(1, t.tokens), 2),
        `${fmtAuto(perToken(t) / (name.includes("harmful") ? nlcHarmful : nlcHarmless))}x`,
      ]),
    ),
  );
  const lengthRatio = perToken(r["guard harmless 2048"]!) / perToken(r["guard harmless 64"]!);
  print(`time per answer token at max-tokens 2048 / at 64 (harmless): ${fmtAuto(lengthRatio)}x`);
  print("rows / token: rows decoded per answer token, the prompt's prefill left out (1 = plain sampling; node-llama-cpp has no such counter).");
  print("node-llama-cpp: LlamaChatSession.prompt on its own context of the same model (threads 1, temperature 1, seeded).");
  return { requests: n, results: r, lengthRatio, guardVsNodeLlamaCpp: { harmless: perToken(r["guard harmless 64"]!) / nlcHarmless, harmful: perToken(r["guard harmful 64"]!) / nlcHarmful } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf("--requests");
  await chatSection({ requests: at > 0 ? Number(process.argv[at + 1]) : undefined });
}
