// Builds the evaluation sets of the SmolLM2 efficacy table (issue 26 section 4, docs/efficacy.md)
// from the per-source splits (models/splits): 200 held-out harmful and 200 held-out harmless
// requests, every one on its source's eval side and with no near copy (src/data/nearCopy.ts) in any
// training set, committed training files included. Deterministic; rerun after the splits change.
//   npx tsx scripts/eval/smollm2-sets.ts [--check]    (--check: fail if the committed files differ)
//
// Harmful: the tiny assistant's 200 (models/testbed/assistant-harmful.test.jsonl, refusal_direction's
// harmful_test) minus the prompts the split drops as leaks and repeated prompts, topped up in file order from the rest of
// refusal_direction's eval side. Harmless: the tiny assistant's 200 (126 Alpaca test + 74 XSTest
// safe prompts), all on eval sides; kept so the two tables share their harmless requests.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { COMMITTED_TRAIN_FILES, PROMPT_SOURCES, Split, committedPrompts, normalisePrompt } from "../../src/data/splits.js";
import { nearCopyPairs } from "../../src/data/nearCopy.js";
import { writeFileAtomic } from "../../src/util/files.js";
import { PACKAGE_ROOT, SHARED_DIR } from "../../src/paths.js";

type Row = { id: string; prompt: string; label: string; source?: string; category?: string };
const SIZE = 200;
const dataDir = join(SHARED_DIR, "data");
const readJsonl = (file: string): Row[] =>
  readFileSync(join(PACKAGE_ROOT, file), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Row);

// Every source's sides, by normalised prompt text.
const side = new Map<string, "train" | "eval" | "dropped">();
const training: string[] = [];
const harmfulEval: string[] = [];
for (const source of PROMPT_SOURCES) {
  const split = Split.read(PACKAGE_ROOT, source.name);
  for (const p of source.load(dataDir)) {
    const s = split.sideOf(p.id) ?? "dropped";
    const key = normalisePrompt(p.prompt);
    // A text on a training side anywhere counts as trained on.
    if (side.get(key) !== "train") side.set(key, s);
    if (s === "train") training.push(p.prompt);
    if (source.name === "harmful" && s === "eval" && p.id.startsWith("test-")) harmfulEval.push(p.prompt);
  }
}
training.push(...COMMITTED_TRAIN_FILES.flatMap((f) => committedPrompts(PACKAGE_ROOT, f)));

/** Rows on an eval side with no near copy in training, in order. */
function heldOut<T extends { prompt: string }>(rows: T[]): T[] {
  const onEval = rows.filter((r) => side.get(normalisePrompt(r.prompt)) === "eval");
  const leaked = new Set(nearCopyPairs(onEval.map((r) => r.prompt), training).map(([i]) => i));
  return onEval.filter((_, i) => !leaked.has(i));
}

/** The first row of each prompt text (the tiny assistant's harmful file repeats two). */
const distinct = <T extends { prompt: string }>(rows: T[]): T[] => {
  const seen = new Set<string>();
  return rows.filter((r) => !seen.has(normalisePrompt(r.prompt)) && seen.add(normalisePrompt(r.prompt)));
};
const oldHarmful = readJsonl("models/testbed/assistant-harmful.test.jsonl");
const keptHarmful = distinct(heldOut(oldHarmful));
const have = new Set(keptHarmful.map((r) => normalisePrompt(r.prompt)));
const topUp = distinct(heldOut(harmfulEval.filter((p) => !have.has(normalisePrompt(p))).map((prompt) => ({ prompt }))));
const harmful: Row[] = [
  ...keptHarmful.map((r) => ({ ...r, label: "harmful" })),
  ...topUp.slice(0, SIZE - keptHarmful.length).map((r, i) => ({ id: `harmful-topup-${i}`, prompt: r.prompt, label: "harmful", source: "refusal_direction-test" })),
];
const oldHarmless = readJsonl("models/testbed/assistant-harmless.test.jsonl");
const harmless = distinct(heldOut(oldHarmless));
if (harmful.length !== SIZE || harmless.length !== SIZE) throw new Error(`sets of ${harmful.length} harmful / ${harmless.length} harmless, not ${SIZE}`);

const files = {
  "models/eval/smollm2-harmful.test.jsonl": harmful,
  "models/eval/smollm2-harmless.test.jsonl": harmless,
};
const check = process.argv.includes("--check");
let differs = false;
for (const [file, rows] of Object.entries(files)) {
  const text = rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
  if (check) {
    let old = "";
    try { old = readFileSync(join(PACKAGE_ROOT, file), "utf8"); } catch { /* missing: differs */ }
    if (old !== text) { console.error(`${file} differs from what the splits give`); differs = true; }
  } else writeFileAtomic(join(PACKAGE_ROOT, file), text);
  console.log(`${file}: ${rows.length} requests`);
}
console.log(`harmful: ${keptHarmful.length} of the tiny assistant's 200 kept, ${SIZE - keptHarmful.length} topped up`);
if (differs) process.exit(1);
