// Time per block of the chat cost models (issue 26 section 1; docs/performance.md's chat note):
// one stepCosts call as the guard makes it per block, N candidates (the guard's default 8) of
// about 8 tokens (6 words) after a shared prefix, on SmolLM2's held-out answers, each model bound
// to the answer's request as the guard binds it (outside the timing: h runs once per generation).
// The request-aware default makes two native classifier calls per block (a and c) where the answer
// classifier alone makes one.
//
//   npx tsx bench/chatCostBlock.ts [--candidates 8] [--repeats 3]
import { join } from "node:path";
import { bindRequest, type CostModel } from "../src/cost/costModel.js";
import { loadHarmExamples } from "../src/cost/harmData.js";
import { loadCostModel } from "../src/cost/load.js";
import { SHARED_DIR } from "../src/paths.js";
import { int, type FlagTable } from "../src/cli/flagTable.js";
import { benchFlags, benchUsage } from "./flags.js";
import { fmt, runWhenMain, table } from "./measure.js";

const FLAGS = {
  candidates: { metavar: "N", help: "candidates per block, as many as the guard scores", parse: int(1), default: 8 },
  repeats: { metavar: "N", help: "passes over the held-out answers", parse: int(1), default: 3 },
} as const satisfies FlagTable;

const USAGE = benchUsage("chatCostBlock", "Time per block of the chat cost models on SmolLM2's held-out answers.", FLAGS);

async function main(): Promise<void> {
  const { candidates: N, repeats: REPEATS } = benchFlags("chatCostBlock", FLAGS, USAGE);
  const answers = loadHarmExamples({ dataDir: join(SHARED_DIR, "data") }).filter((r) => r.side === "eval" && r.source === "smollm2");
  const models: Array<[string, CostModel]> = [
    ["harm:chat-harm.json (the chat default)", await loadCostModel("harm:chat-harm.json")],
    ["classifier:chat-harm-classifier.bin (its a alone)", await loadCostModel("classifier:chat-harm-classifier.bin")],
  ];
  const rows: string[][] = [];
  for (const [name, model] of models) {
    let calls = 0;
    let ms = 0;
    for (let rep = 0; rep < REPEATS; rep++) {
      for (const r of answers) {
        const bound = bindRequest(model, { prompt: r.prompt });
        const words = r.text.split(/(?<=\s)/);
        for (let at = 0; at + 6 <= words.length; at += 6) {
          const prefix = words.slice(0, at).join("");
          // N candidates: the real next block and N - 1 others (later blocks of the same answer).
          const items = Array.from({ length: N }, (_, k) => ({ prefix, added: words.slice(at + 6 * k, at + 6 * k + 6).join("") || words.slice(at, at + 6).join("") }));
          const t = performance.now();
          await bound.stepCosts(items);
          ms += performance.now() - t;
          calls++;
        }
      }
    }
    rows.push([name, String(calls), fmt(ms / calls, 3), fmt((1000 * ms) / calls / N, 1)]);
  }
  console.log(table(["cost model", "blocks", "ms per block", "µs per candidate"], rows));
}

runWhenMain(import.meta, "bench/chatCostBlock", main);
