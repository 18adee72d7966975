// The hashed n-gram text classifier (native/classifier) retrained on the harm data of issue 26
// (src/cost/harmData.ts: XSTest human labels, GPTFuzz's labels, hh-rlhf chosen answers, SmolLM2's
// own answers by request and compliance; no tiny-assistant word salad), with the shipped feature
// settings and every (source, label) carrying an equal share of the loss (as scripts/cost/compare.py).
//
//   npx tsx scripts/cost/harm-classifier.ts loso DATA.jsonl FOLDS.json SCORES.json
//       scores every fold of compare.py's folds.json (its test rows), for compare.py --scores
//   npx tsx scripts/cost/harm-classifier.ts train DATA.jsonl OUT.bin
//       trains on every source's training side and writes a classifier file (classifier:OUT.bin)
import { readFileSync, writeFileSync } from "node:fs";
import { TextClassifier } from "../../src/cost/classifier/classifier.js";
import { type ClassifierSpec, writeClassifierFile } from "../../src/cost/classifier/classifierFormat.js";
import type { HarmExample } from "../../src/cost/harmData.js";
import { calibrationFold } from "./calibrationFold.js";
import { fitClassifier } from "./fitClassifier.js";

// Feature and fit settings: the shipped classifier's (DEFAULT_TRAIN_OPTIONS) unless overridden,
// e.g. IG_CHAR_WEIGHT=0 IG_WORD_NGRAMS=2 (word uni+bigrams only, as the TF-IDF baseline): fitClassifier.ts's FIT_OPTIONS.
const [mode, dataPath, a, b] = process.argv.slice(2);
const rows = readFileSync(dataPath!, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as HarmExample);

/** The answer-harm classifier on these rows (each (source, label) an equal share of the loss). */
function fit(train: readonly number[]): ClassifierSpec {
  return fitClassifier(
    train.map((i) => ({ text: rows[i]!.text, label: rows[i]!.label, source: rows[i]!.source })),
    {
      positiveClass: "unsafe (a harmful answer)",
      labels: "src/cost/harmData.ts",
      // No createdAt and no paths: a rebuild from the same inputs gives the same bytes (the harm: file pins them by sha256).
      command: ["bash", "scripts/cost/build-chat-cost.sh", `(scripts/cost/harm-classifier.ts ${mode})`],
    },
  );
}

if (mode === "loso") {
  const folds = JSON.parse(readFileSync(a!, "utf8")) as Record<string, { train: number[]; test: number[] }>;
  const out: Record<string, number[]> = {};
  for (const [name, f] of Object.entries(folds)) {
    const model = TextClassifier.fromSpec(fit(f.train), name);
    out[name] = Array.from(model.score(f.test.map((i) => rows[i]!.text)));
    console.log(name, f.train.length, "train", f.test.length, "test");
  }
  writeFileSync(b!, JSON.stringify(out));
} else if (mode === "train") {
  // IG_CALIBRATION_FOLD=1 leaves out the training prompts that scripts/cost/calibrate.ts chooses
  // the output scale on (calibrationFold), so that choice sees scores of unseen prompts.
  const leaveOut = process.env.IG_CALIBRATION_FOLD === "1";
  const train = rows.flatMap((r, i) => (r.side === "train" && !(leaveOut && calibrationFold(r.promptId)) ? [i] : []));
  writeClassifierFile(a!, fit(train));
  console.log(`${train.length} training rows -> ${a}`);
} else {
  throw new Error("usage: harm-classifier.ts loso DATA FOLDS SCORES | train DATA OUT.bin");
}
