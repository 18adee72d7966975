// The request-aware chat cost (issue 26; docs/cost-models.md "The chat default"): HarmBench's
// definition of a harmful answer, "it reads harmful, OR it complies with a harmful request",
//     cost(request, text) = 1 - (1 - a(text)) * (1 - h(request) * c(text))
// a = the answer-harm classifier (models/chat-harm-classifier.bin), h = a request-harm classifier
// on the request text, c = a compliance classifier on the answer (compliant vs refusal). This script
// trains h and c with the native classifier (scripts/cost/fitClassifier.ts) on training sides only
// (models/splits), and either scores compare.py's folds or builds the shipped files.
//
//   npx tsx scripts/cost/request-harm.ts loso DATA.jsonl FOLDS.json A_SCORES.json SCORES_DIR
//       per fold: h trained without every prompt that is a near copy of a test row's prompt (and
//       without XSTest in loso-xstest), c on the fold's training rows; writes SCORES_DIR/NAME.json
//       for compare.py --scores: harm-request (the rule on raw probabilities: nothing chosen on
//       any test row), harm-request-calibrated (the shipped scales), request-only (h), request-x-compliance (h*c).
//   npx tsx scripts/cost/request-harm.ts build DATA.jsonl A_FOLD.bin MODELS_DIR [--budget 0.5]
//       h and c trained without the calibration fold (scripts/cost/calibrationFold.ts), their
//       output scales chosen on that fold (training rows only) for the guard's block charges, then
//       h and c trained on every training row with those scales: MODELS_DIR/chat-request-harm.bin,
//       MODELS_DIR/chat-compliance.bin and MODELS_DIR/chat-harm.json (the harm: spec's file), beside
//       MODELS_DIR/chat-harm-classifier.bin (a; A_FOLD.bin is a trained without the fold).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TextClassifier } from "../../src/cost/classifier/classifier.js";
import { type ClassifierSpec, readClassifierFile, writeClassifierFile } from "../../src/cost/classifier/classifierFormat.js";
import type { HarmExample } from "../../src/cost/harmData.js";
import { HARM_COST_FORMAT, HARM_COST_FORMAT_VERSION, type HarmCostFile } from "../../src/cost/requestHarm.js";
import { nearCopyPairs } from "../../src/data/nearCopy.js";
import { loadXsTestPrompts } from "../../src/data/datasets.js";
import { PROMPT_SOURCES, Split } from "../../src/data/splits.js";
import { Engine } from "../../src/engine/engine.js";
import { fetchedModelPath } from "../../src/models/index.js";
import { PACKAGE_ROOT, SHARED_DIR } from "../../src/paths.js";
import { fileSha256 } from "../../src/util/fileHash.js";
import { mulberry32 } from "../../src/util/random.js";
import { calibrationFold } from "./calibrationFold.js";
import { type FitExample, fitClassifier } from "./fitClassifier.js";

const [mode, dataPath, a1, a2, a3] = process.argv.slice(2);
const rows = readFileSync(dataPath!, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as HarmExample);
// The files record how they were made without this machine's paths, so a rebuild gives the same bytes.
const command = ["bash", "scripts/cost/build-chat-cost.sh", `(scripts/cost/request-harm.ts ${mode})`];

/** Sources of harmful requests (label 1); Alpaca ("harmless") gives the harmless ones (label 0). */
const HARMFUL_REQUEST_SOURCES = ["harmful", "advbench", "donotanswer", "gptfuzz", "strongreject"];
interface RequestRow { id: string; source: string; prompt: string; label: 0 | 1 }
// XSTest's prompts carry their own label (xstest_prompts.csv: safe / unsafe).
const XSTEST_PROMPT_LABELS = new Map(loadXsTestPrompts(join(SHARED_DIR, "data")).map((p) => [`xstest:${p.id}`, p.label === "unsafe" ? (1 as const) : (0 as const)]));
const requestRows: RequestRow[] = [];
for (const s of PROMPT_SOURCES) {
  const isHarmful = HARMFUL_REQUEST_SOURCES.includes(s.name);
  if (!isHarmful && s.name !== "harmless" && s.name !== "xstest") continue;
  const split = Split.read(PACKAGE_ROOT, s.name);
  for (const p of s.load(join(SHARED_DIR, "data"))) {
    if (split.sideOf(p.id) !== "train") continue;
    const id = `${s.name}:${p.id}`;
    const label: 0 | 1 | undefined = s.name === "xstest" ? XSTEST_PROMPT_LABELS.get(id) : isHarmful ? 1 : 0;
    if (label !== undefined) requestRows.push({ id, source: s.name, prompt: p.prompt, label });
  }
}


function fitRequests(keep: (r: RequestRow, i: number) => boolean): ClassifierSpec {
  const xs: FitExample[] = requestRows.filter((r, i) => keep(r, i)).map((r) => ({ text: r.prompt, label: r.label, source: r.source }));
  return fitClassifier(xs, { positiveClass: "harmful (a request one must not comply with)", labels: "request source (harmful sets vs Alpaca; XSTest's own labels)", command });
}
function fitCompliance(idx: readonly number[]): ClassifierSpec {
  const xs: FitExample[] = idx.map((i) => ({ text: rows[i]!.text, label: rows[i]!.kind === "refusal" ? 0 : 1, source: rows[i]!.source }));
  return fitClassifier(xs, { positiveClass: "compliant (an answer that is not a refusal)", labels: "src/cost/harmData.ts kinds: refusal vs helpful or harmful", command });
}
const raw = (spec: ClassifierSpec, name: string): TextClassifier =>
  TextClassifier.fromSpec({ header: { ...spec.header, calibration: { method: "none", scale: 1, shift: 0 } }, weights: spec.weights }, name);
const withCal = (spec: ClassifierSpec, scale: number, shift: number, fittedOn: string): ClassifierSpec => ({
  header: { ...spec.header, calibration: { method: "platt", scale, shift, fittedOn } }, weights: spec.weights,
});
const sig = (z: number): number => 1 / (1 + Math.exp(-z));
const logit = (p: number): number => Math.log(Math.max(1e-7, p) / Math.max(1e-7, 1 - p));
const noisyOr = (a: number, h: number, c: number): number => 1 - (1 - a) * (1 - h * c);

if (mode === "loso") {
  const folds = JSON.parse(readFileSync(a1!, "utf8")) as Record<string, { train: number[]; test: number[] }>;
  const aScores = JSON.parse(readFileSync(a2!, "utf8")) as Record<string, number[]>;
  const shipped = JSON.parse(readFileSync(join(PACKAGE_ROOT, "models", "chat-harm.json"), "utf8")) as HarmCostFile;
  const calOf = (file: string) => readClassifierFile(join(PACKAGE_ROOT, "models", file)).header.calibration;
  const [ca, ch, cc] = [calOf(shipped.answer.file), calOf(shipped.request.file), calOf(shipped.compliance.file)];
  const out: Record<string, Record<string, number[]>> = { "harm-request": {}, "harm-request-calibrated": {}, "request-only": {}, "request-x-compliance": {} };
  for (const [name, f] of Object.entries(folds)) {
    const testPrompts = [...new Set(f.test.map((i) => rows[i]!.prompt))];
    const near = new Set(nearCopyPairs(requestRows.map((r) => r.prompt), testPrompts).map(([i]) => i));
    const leaveXs = name === "loso-xstest";
    const h = raw(fitRequests((r, i) => !near.has(i) && !(leaveXs && r.source === "xstest")), "h");
    const c = raw(fitCompliance(f.train), "c");
    const H = h.score(f.test.map((i) => rows[i]!.prompt));
    const C = c.score(f.test.map((i) => rows[i]!.text));
    const A = aScores[name]!;
    const cal = (p: number, k: { scale: number; shift: number }): number => sig(k.scale * logit(p) + k.shift);
    out["harm-request"]![name] = f.test.map((_, k) => noisyOr(A[k]!, H[k]!, C[k]!));
    out["harm-request-calibrated"]![name] = f.test.map((_, k) => noisyOr(cal(A[k]!, ca), cal(H[k]!, ch), cal(C[k]!, cc)));
    out["request-only"]![name] = Array.from(H);
    out["request-x-compliance"]![name] = f.test.map((_, k) => H[k]! * C[k]!);
    console.log(name, `h: ${requestRows.length - near.size} requests (${near.size} near copies of test prompts left out${leaveXs ? ", and XSTest" : ""}); c: ${f.train.length} answers; ${f.test.length} test`);
  }
  for (const [k, v] of Object.entries(out)) writeFileSync(join(a3!, `${k}.json`), JSON.stringify(v));
} else if (mode === "build") {
  const modelsDir = a2!;
  const budget = process.argv.includes("--budget") ? Number(process.argv[process.argv.indexOf("--budget") + 1]) : 0.5;
  const aFinal = readClassifierFile(join(modelsDir, "chat-harm-classifier.bin"));
  const aFold = TextClassifier.fromSpec({ header: { ...readClassifierFile(a1!).header, calibration: aFinal.header.calibration }, weights: readClassifierFile(a1!).weights }, "a-fold");
  const trainIdx = rows.flatMap((r, i) => (r.side === "train" ? [i] : []));
  const hFold = raw(fitRequests((r) => !calibrationFold(r.id)), "h-fold");
  const cFold = raw(fitCompliance(trainIdx.filter((i) => !calibrationFold(rows[i]!.promptId))), "c-fold");
  const cal = rows.filter((r) => r.side === "train" && calibrationFold(r.promptId));
  const tok = await Engine.load({ modelPath: fetchedModelPath("smollm2-135m-instruct"), threads: 1, contextSize: 256, maxSequences: 1 });
  const rng = mulberry32(26);
  const sample = <T>(xs: T[], n: number): T[] => { const s = [...xs]; for (let i = s.length - 1; i > 0; i--) { const j = Math.floor(rng() * (i + 1)); [s[i], s[j]] = [s[j]!, s[i]!]; } return s.slice(0, n); };
  // Per answer: a's calibrated probability and c's raw logit after every 8-token block, h's raw logit of its request.
  interface Scored { source: string; pa: number[]; zc: number[]; zh: number }
  const score = (r: HarmExample, blocks: boolean): Scored => {
    const t = tok.tokenize(r.text);
    const texts: string[] = [];
    if (blocks) for (let at = 8; at < t.length + 8; at += 8) texts.push(tok.detokenize(t.slice(0, Math.min(t.length, at))));
    else texts.push(r.text);
    return { source: r.source, pa: Array.from(aFold.score(texts)), zc: Array.from(cFold.score(texts), logit), zh: logit(hFold.score([r.prompt])[0]!) };
  };
  const helpfulS = cal.filter((r) => r.source === "smollm2" && r.kind === "helpful").map((r) => score(r, true));
  const helpfulX = cal.filter((r) => r.source === "xstest" && r.kind === "helpful").map((r) => score(r, true));
  const harmful = ["xstest", "gptfuzz", "smollm2"].flatMap((s) => sample(cal.filter((r) => r.kind === "harmful" && r.source === s), 150)).map((r) => score(r, true));
  const refusals = sample(cal.filter((r) => r.kind === "refusal"), 300).map((r) => score(r, false));
  const harmlessRequests = [...new Set(cal.filter((r) => r.kind === "helpful" && (r.source === "smollm2" || r.source === "xstest")).map((r) => r.prompt))];
  const openers = ["Sure,", "Here is"].map((o) => ({ pa: aFold.score([o])[0]!, zc: logit(cFold.score([o])[0]!) }));
  const zhHarmless = harmlessRequests.map((p) => logit(hFold.score([p])[0]!));
  // IG_DUMP=FILE: the calibration fold's scores, to study the grid's bounds outside this script.
  if (process.env.IG_DUMP) writeFileSync(process.env.IG_DUMP, JSON.stringify({ helpfulS, helpfulX, harmful, refusals, openers, zhHarmless }));
  const median = (xs: number[]): number => { const s = [...xs].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
  type K = { sh: number; bh: number; sc: number; bc: number };
  const charge = (x: Scored, k: K): number => {
    const ph = sig(k.sh * x.zh + k.bh);
    let prev = 0, total = 0;
    for (let b = 0; b < x.pa.length; b++) { const p = noisyOr(x.pa[b]!, ph, sig(k.sc * x.zc[b]! + k.bc)); if (p > prev) total += p - prev; prev = p; }
    return total;
  };
  const choose = (budget: number) => {
    const xsFloor = aloneXsOver(budget);
    let best: (K & Record<string, number>) | undefined;
    for (const sh of [0.5, 1, 1.5, 2, 3]) for (let bh = -6; bh <= 2.001; bh += 0.5) for (const sc of [0.5, 1, 2, 3]) for (let bc = -4; bc <= 4.001; bc += 0.5) {
      const k = { sh, bh, sc, bc };
      const hs = helpfulS.map((x) => charge(x, k)), hx = helpfulX.map((x) => charge(x, k));
      const over = (xs: number[]) => xs.filter((v) => v > budget).length / xs.length;
      if (median(hs) > 0.1 || over(hs) > 0.02 || median(hx) > 0.1 || over(hx) > xsFloor + 0.02) continue;
      const refusalMedian = median(refusals.map((x) => charge(x, k)));
      if (refusalMedian > 0.05) continue;
      const openerMedian = Math.max(...openers.map((o) => median(zhHarmless.map((zh) => noisyOr(o.pa, sig(sh * zh + bh), sig(sc * o.zc + bc))))));
      if (openerMedian > 0.1) continue;
      const bySource = new Map<string, number[]>();
      for (const x of harmful) bySource.set(x.source, [...(bySource.get(x.source) ?? []), charge(x, k) > budget ? 1 : 0]);
      const caught = [...bySource.values()].reduce((t, xs) => t + xs.reduce((u, v) => u + v, 0) / xs.length, 0) / bySource.size;
      if (!best || caught > best.caught + 1e-12) best = { ...k, caught, helpfulSmolMedian: median(hs), helpfulSmolOver: over(hs), helpfulXsMedian: median(hx), helpfulXsOver: over(hx), refusalMedian, openerMedian };
    }
    return best;
  };
  // The answer classifier alone (h = 0): the floor every choice of h and c starts from. Other
  // models' long XSTest answers to scary-sounding safe prompts are already often over under a alone
  // (SmolLM2's short ones are not), so there the bound is on what h * c adds: <= 2 points more over.
  const aloneXsOver = (budget: number): number => {
    const k0 = { sh: 1, bh: -40, sc: 1, bc: 0 };
    const hs = helpfulS.map((x) => charge(x, k0)), hx = helpfulX.map((x) => charge(x, k0)), rf = refusals.map((x) => charge(x, k0));
    const over = (xs: number[]) => xs.filter((v) => v > budget).length / xs.length;
    console.log(`a alone, budget ${budget}:`, JSON.stringify({ smolMedian: median(hs), smolOver: over(hs), xsMedian: median(hx), xsOver: over(hx), refusalMedian: median(rf), n: [hs.length, hx.length, rf.length] }));
    return over(hx);
  };
  for (const b of [0.3, 0.5, 0.7]) console.log(`budget ${b}:`, JSON.stringify(choose(b)));
  const best = choose(budget);
  if (!best) throw new Error("no scale of the grid meets the helpful, refusal and opener bounds on the calibration fold");
  const counts = `${helpfulS.length} SmolLM2 + ${helpfulX.length} XSTest helpful answers, ${harmful.length} harmful, ${refusals.length} refusals, ${harmlessRequests.length} harmless requests`;
  const fittedOn = `chosen jointly for h and c on the calibration fold of the training rows, scored by models trained without it (scripts/cost/request-harm.ts build, budget ${budget}; ${counts}): ${JSON.stringify(best)}`;
  const hSpec = withCal(fitRequests(() => true), best.sh, best.bh, fittedOn);
  const cSpec = withCal(fitCompliance(trainIdx), best.sc, best.bc, fittedOn);
  writeClassifierFile(join(modelsDir, "chat-request-harm.bin"), hSpec);
  writeClassifierFile(join(modelsDir, "chat-compliance.bin"), cSpec);
  const file: HarmCostFile = {
    format: HARM_COST_FORMAT, version: HARM_COST_FORMAT_VERSION,
    rule: "noisy-or",
    answer: { file: "chat-harm-classifier.bin", sha256: await fileSha256(join(modelsDir, "chat-harm-classifier.bin")) },
    request: { file: "chat-request-harm.bin", sha256: await fileSha256(join(modelsDir, "chat-request-harm.bin")) },
    compliance: { file: "chat-compliance.bin", sha256: await fileSha256(join(modelsDir, "chat-compliance.bin")) },
    note: "cost = 1 - (1 - answer(text)) * (1 - request(req) * compliance(text)): HarmBench's harmful answer (reads harmful, or complies with a harmful request); docs/cost-models.md",
  };
  writeFileSync(join(modelsDir, "chat-harm.json"), JSON.stringify(file, null, 2) + "\n");
  console.log(`${requestRows.length} requests, ${trainIdx.length} answers -> ${modelsDir}/chat-request-harm.bin, chat-compliance.bin, chat-harm.json`);
  await tok.dispose();
} else {
  throw new Error("usage: request-harm.ts loso DATA FOLDS A_SCORES SCORES_DIR | build DATA A_FOLD.bin MODELS_DIR [--budget B]");
}
