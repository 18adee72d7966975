// h (the request-harm part of the chat default, harm:models/chat-harm.json) on the committed
// evaluation requests of the SmolLM2 efficacy table (models/eval/smollm2-{harmful,harmless}.test.jsonl,
// docs/efficacy.md): how many harmful requests it reads as harmful enough that complying alone goes
// over the budget (h > 0.5), and how high it reads the harmless ones. A compliant answer's charge is at least about h.
//   npx tsx scripts/cost/request-scores.ts [SPEC]
import { join } from "node:path";
import { loadCostModel } from "../../src/cost/load.js";
import { RequestHarmCostModel } from "../../src/cost/requestHarm.js";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { readFileSync } from "node:fs";

const model = await loadCostModel(process.argv[2] ?? "harm:chat-harm.json");
if (!(model instanceof RequestHarmCostModel)) throw new Error(`${model.name} is not a harm: cost model`);
for (const set of ["harmful", "harmless"]) {
  const file = join(PACKAGE_ROOT, "models", "eval", `smollm2-${set}.test.jsonl`);
  const rows = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as { prompt: string });
  const h = rows.map((r) => model.forRequest(r.prompt).harmOfRequest).sort((a, b) => a - b);
  const q = (p: number): string => h[Math.floor(p * (h.length - 1))]!.toFixed(3);
  console.log(`${set}: ${h.length} requests, h median ${q(0.5)}, p10 ${q(0.1)}, p90 ${q(0.9)}, over 0.5: ${h.filter((x) => x > 0.5).length}, over 0.3: ${h.filter((x) => x > 0.3).length}`);
}
