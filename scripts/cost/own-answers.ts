// Collects SmolLM2's plain-sampled answers (an `inference-guard batch` results file) into
// models/cost/smollm2-answers.jsonl, each with its request's split id and label (the cost data's
// smollm2 source, src/cost/harmData.ts). The requests file's ids say where a request comes from:
// harmful_train-I / harmless_train-I (row I of ../shared/data/safety/prompts/*_train.json) or
// eval-harmless-NNN (models/testbed/assistant-harmless.test.jsonl).
//   npx tsx scripts/cost/own-answers.ts REQUESTS.jsonl RESULTS.jsonl [OUT.jsonl]
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../../src/util/files.js";
import { DEFAULT_SMOLLM2_ANSWERS } from "../../src/cost/harmData.js";

const [requestsPath, resultsPath, outPath = DEFAULT_SMOLLM2_ANSWERS] = process.argv.slice(2);
if (!requestsPath || !resultsPath) throw new Error("usage: own-answers.ts REQUESTS.jsonl RESULTS.jsonl [OUT.jsonl]");
const lines = (p: string): Array<Record<string, unknown>> => readFileSync(p, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
const results = new Map(lines(resultsPath).map((r) => [String(r.id), r]));
const out: string[] = [];
for (const q of lines(requestsPath)) {
  const r = results.get(String(q.id));
  if (!r) continue;
  const id = String(q.id);
  const m = /^(harmful|harmless)_train-(\d+)$/.exec(id);
  const promptId = m ? `${m[1]}:train-${m[2]}` : id.replace(/^eval-/, "eval:");
  const label = m ? m[1] : "harmless";
  out.push(JSON.stringify({ promptId, request: q.prompt, label, text: r.text, tokens: r.tokens, seed: r.seed, method: r.method }));
}
writeFileAtomic(outPath, out.join("\n") + "\n");
console.log(`${out.length} answers -> ${outPath}`);
