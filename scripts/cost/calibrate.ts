// Chooses a text classifier's output scale and shift (p = sigmoid(scale * logit + shift), the
// file's "platt" calibration) on TRAINING rows only, for the guard's charge: an answer is charged
// the sum of its clipped step costs over blocks of 8 SmolLM2 tokens, so a helpful answer whose
// score wobbles around 0.3 is charged far more than 0.3. Among the (scale, shift) of a grid that
// keep SmolLM2's helpful training answers' median charge <= 0.1 with <= 2% over the budget, and
// refusals' median cost <= 0.05, it keeps the one that puts most harmful training answers over
// the budget, and writes the calibrated copy.
//   npx tsx scripts/cost/calibrate.ts DATA.jsonl FOLD_MODEL.bin FINAL.bin OUT.bin [--budget 0.5]
// FOLD_MODEL.bin is trained without the calibration fold; the chosen scale and shift are written
// into a copy of FINAL.bin (trained on every training row).
import { readFileSync } from "node:fs";
import { TextClassifier } from "../../src/cost/classifier/classifier.js";
import { readClassifierFile, writeClassifierFile } from "../../src/cost/classifier/classifierFormat.js";
import { Engine } from "../../src/engine/engine.js";
import type { HarmExample } from "../../src/cost/harmData.js";
import { mulberry32 } from "../../src/util/random.js";
import { calibrationFold } from "./calibrationFold.js";
import { fetchedModelPath } from "../../src/models/index.js";

const [dataPath, modelPath, finalPath, outPath] = process.argv.slice(2);
const budget = process.argv.includes("--budget") ? Number(process.argv[process.argv.indexOf("--budget") + 1]) : 0.5;
const rows = readFileSync(dataPath!, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as HarmExample);
const spec = readClassifierFile(modelPath!);
const raw = TextClassifier.fromSpec({ header: { ...spec.header, calibration: { method: "none", scale: 1, shift: 0 } }, weights: spec.weights }, "raw");
const tok = await Engine.load({ modelPath: fetchedModelPath("smollm2-135m-instruct"), threads: 1, contextSize: 256, maxSequences: 1 });

const rng = mulberry32(26);
const sample = <T>(xs: T[], n: number): T[] => { const a = [...xs]; for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(rng() * (i + 1)); [a[i], a[j]] = [a[j]!, a[i]!]; } return a.slice(0, n); };
// Rows of the calibration fold only: MODEL.bin must be trained without them
// (IG_CALIBRATION_FOLD=1 scripts/cost/harm-classifier.ts train); OUT.bin copies --final's weights.
const train = rows.filter((r) => r.side === "train" && calibrationFold(r.promptId));
const helpful = train.filter((r) => r.source === "smollm2" && r.kind === "helpful");
// Harmful answers of each source count alike (GPTFuzz's long jailbreak answers would drown the
// short compliant ones of XSTest and SmolLM2).
const harmful = ["xstest", "gptfuzz", "smollm2"].flatMap((s) => sample(train.filter((r) => r.kind === "harmful" && r.source === s), 150));
const refusals = sample(train.filter((r) => r.kind === "refusal"), 300);
const logit = (p: number): number => Math.log(Math.max(1e-7, p) / Math.max(1e-7, 1 - p));
// Logits of every 8-token block prefix of each answer.
const blockLogits = (r: HarmExample): number[] => {
  const t = tok.tokenize(r.text);
  const texts: string[] = [];
  for (let at = 8; at < t.length + 8; at += 8) texts.push(tok.detokenize(t.slice(0, Math.min(t.length, at))));
  return Array.from(raw.score(texts), logit);
};
const H = helpful.map(blockLogits);
const B = harmful.map(blockLogits);
const R = refusals.map((r) => logit(raw.score([r.text])[0]!));
const sig = (z: number): number => 1 / (1 + Math.exp(-z));
const charge = (zs: number[], s: number, b: number): number => {
  let prev = 0, total = 0;
  for (const z of zs) { const p = sig(s * z + b); if (p > prev) total += p - prev; prev = p; }
  return total;
};
const median = (xs: number[]): number => { const a = [...xs].sort((x, y) => x - y); return a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2; };
let best: { s: number; b: number; caught: number; helpfulMedian: number; helpfulOver: number; refusalMedian: number } | undefined;
for (const s of [0.5, 0.75, 1, 1.5, 2, 3]) {
  for (let b = -8; b <= 0.001; b += 0.25) {
    const hc = H.map((zs) => charge(zs, s, b));
    const helpfulMedian = median(hc), helpfulOver = hc.filter((c) => c > budget).length / hc.length;
    const refusalMedian = median(R.map((z) => sig(s * z + b)));
    if (helpfulMedian > 0.1 || helpfulOver > 0.02 || refusalMedian > 0.05) continue;
    const bySource = new Map<string, number[]>();
    B.forEach((zs, k) => bySource.set(harmful[k]!.source, [...(bySource.get(harmful[k]!.source) ?? []), charge(zs, s, b) > budget ? 1 : 0]));
    const caught = [...bySource.values()].reduce((t, xs) => t + xs.reduce((u, x) => u + x, 0) / xs.length, 0) / bySource.size;
    if (!best || caught > best.caught) best = { s, b, caught, helpfulMedian, helpfulOver, refusalMedian };
  }
}
if (!best) throw new Error("no (scale, shift) of the grid meets the helpful and refusal bounds on the training rows");
console.log(JSON.stringify({ helpful: H.length, harmful: B.length, refusals: R.length, ...best }));
const final = readClassifierFile(finalPath!);
final.header.calibration = {
  method: "platt", scale: best.s, shift: best.b,
  fittedOn: `chosen on the calibration fold of the training rows, scored by a model trained without it (scripts/cost/calibrate.ts, budget ${budget}): ${H.length} SmolLM2 helpful answers charged median ${best.helpfulMedian.toFixed(3)}, ${(best.helpfulOver * 100).toFixed(1)}% over; ${B.length} harmful answers ${(best.caught * 100).toFixed(1)}% over (mean over sources); ${R.length} refusals median ${best.refusalMedian.toFixed(3)}`,
};
writeClassifierFile(outPath!, final);
await tok.dispose();
