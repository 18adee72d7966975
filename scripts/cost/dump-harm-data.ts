// Writes the labelled cost-model data (src/cost/harmData.ts) as JSON Lines, for the comparison
// scripts (scripts/cost/*.py) and the probe's feature cache.
//   npx tsx scripts/cost/dump-harm-data.ts OUT.jsonl
import { join } from "node:path";
import { SHARED_DIR } from "../../src/paths.js";
import { loadHarmExamples } from "../../src/cost/harmData.js";
import { writeFileAtomic } from "../../src/util/files.js";

const out = process.argv[2];
if (!out) throw new Error("usage: dump-harm-data.ts OUT.jsonl");
const rows = loadHarmExamples({ dataDir: join(SHARED_DIR, "data") });
writeFileAtomic(out, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
const count = new Map<string, number>();
for (const r of rows) count.set(`${r.source} ${r.side} ${r.kind}`, (count.get(`${r.source} ${r.side} ${r.kind}`) ?? 0) + 1);
for (const [k, v] of [...count].sort()) console.log(k.padEnd(30), v);
