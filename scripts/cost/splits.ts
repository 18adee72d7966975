// Builds the per-source train/eval splits (src/data/splits.ts) from ../shared/data and writes
// models/splits/SOURCE.json. Deterministic: run it again after a data or committed-file change,
// and test/data/splits.test.ts checks the committed files are what it gives.
//   npx tsx scripts/cost/splits.ts [--data-dir DIR]   (the shared data folder, as the training commands name it)
import { join, resolve } from "node:path";
import { PACKAGE_ROOT, SHARED_DIR } from "../../src/paths.js";
import { buildSplits, writeSplitFiles } from "../../src/data/splits.js";

const i = process.argv.indexOf("--data-dir");
const dataDir = resolve(i > 0 ? process.argv[i + 1]! : join(SHARED_DIR, "data"));
const splits = buildSplits(dataDir, PACKAGE_ROOT);
writeSplitFiles(PACKAGE_ROOT, splits);
for (const s of splits) {
  const c = s.counts;
  console.log(`${s.source.padEnd(12)} ${String(c.prompts).padStart(6)} prompts: train ${c.train}, eval ${c.eval}, dropped ${c.droppedFromTrain} train + ${c.droppedFromEval} eval (near copies)`);
}
