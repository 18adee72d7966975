// How much of the held-out data a reward head's training examples hold (issue 26 section 2): the
// examples the checkout's data builder (src/reward/rewardData.ts) gives under a head file's recorded
// recipe (its --per-question, --max-examples, --validation-fraction, seed; train-reward's default
// --exclude), counted by source at three stages: all built, the --max-examples subsample, and the
// part actually trained on (the held-out part of the group split left out). An example counts when
// its request is on an eval side of any source's split (models/splits), dropped by the split as a
// near copy across it, or a near copy (src/data/nearCopy.ts) of a committed evaluation set
// (EVALUATION_SET_FILES; the SmolLM2 ones counted apart). No prompt text is printed.
//   npx tsx scripts/reward/held-out-overlap.ts [HEAD.json]   (default models/smollm2-135m-instruct-reward.json)
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { PACKAGE_ROOT, SHARED_DIR } from "../../src/paths.js";
import { DEFAULT_EXCLUDE } from "../../src/cli/trainReward.js";
import { readPromptsFile } from "../../src/data/promptFile.js";
import { nearCopiesOf, evaluationPrompts } from "../../src/data/answerSides.js";
import { EVALUATION_SET_FILES, PROMPT_SOURCES, Split, normalisePrompt } from "../../src/data/splits.js";
import { buildRewardExamples, normalise, splitByGroup, type RewardExample } from "../../src/reward/rewardData.js";
import { subsampleGroups } from "../../src/reward/trainHead.js";

const headPath = resolve(process.argv[2] ?? join(PACKAGE_ROOT, "models", "smollm2-135m-instruct-reward.json"));
const t = (JSON.parse(readFileSync(headPath, "utf8")) as { training: { perQuestion: number; maxExamples?: number; seed: number; heldOutFraction: number; data: { excludedRequests: number } } }).training;
const dataDir = join(SHARED_DIR, "data");
const exclude = new Set(DEFAULT_EXCLUDE.flatMap((f) => readPromptsFile(f)).map(normalise));
const built = buildRewardExamples({ dataDir, exclude, seed: t.seed, perQuestion: t.perQuestion });
const sub = subsampleGroups(built, t.maxExamples, t.seed);
const trained = splitByGroup(sub, t.heldOutFraction, t.seed).train;

// Every source's side of each prompt text (a text on an eval side anywhere counts as held out).
const evalSide = new Set<string>();
const dropped = new Set<string>();
for (const src of PROMPT_SOURCES) {
  const split = Split.read(PACKAGE_ROOT, src.name);
  for (const p of src.load(dataDir)) {
    const side = split.sideOf(p.id);
    if (side === "eval") evalSide.add(normalisePrompt(p.prompt));
    else if (side === undefined) dropped.add(normalisePrompt(p.prompt));
  }
}
const smolFiles = EVALUATION_SET_FILES.filter((f) => f.startsWith("models/eval/"));
const smolEval = evaluationPrompts(PACKAGE_ROOT, smolFiles);
const allEval = evaluationPrompts(PACKAGE_ROOT, EVALUATION_SET_FILES);

const family = (e: RewardExample): string => (e.source.startsWith("xstest-") ? "xstest" : e.source.startsWith("gptfuzz") ? "gptfuzz" : e.source);
function count(examples: RewardExample[]): Record<string, Record<string, number>> {
  const requests = [...new Set(examples.map((e) => e.request))];
  const nearSmol = nearCopiesOf(requests, smolEval);
  const nearAny = nearCopiesOf(requests, allEval);
  const flags = new Map(requests.map((r, i) => {
    const key = normalisePrompt(r);
    return [r, { evalSide: evalSide.has(key), dropped: dropped.has(key), nearSmolLM2Eval: nearSmol.has(i), nearAnyEvalSet: nearAny.has(i) }] as const;
  }));
  const out: Record<string, Record<string, number>> = {};
  for (const e of examples) {
    const f = flags.get(e.request)!;
    for (const name of [family(e), "all"]) {
      const c = (out[name] ??= { examples: 0, evalSide: 0, dropped: 0, nearSmolLM2Eval: 0, nearAnyEvalSet: 0, heldOutAny: 0 });
      c.examples!++;
      if (f.evalSide) c.evalSide!++;
      if (f.dropped) c.dropped!++;
      if (f.nearSmolLM2Eval) c.nearSmolLM2Eval!++;
      if (f.nearAnyEvalSet) c.nearAnyEvalSet!++;
      if (f.evalSide || f.dropped || f.nearAnyEvalSet) c.heldOutAny!++;
    }
  }
  return out;
}
const requestsHeldOut = (examples: RewardExample[]): number => {
  const requests = [...new Set(examples.map((e) => e.request))];
  const near = nearCopiesOf(requests, allEval);
  return requests.filter((r, i) => evalSide.has(normalisePrompt(r)) || dropped.has(normalisePrompt(r)) || near.has(i)).length;
};
console.log(JSON.stringify({
  head: headPath,
  recipe: { perQuestion: t.perQuestion, maxExamples: t.maxExamples, seed: t.seed, heldOutFraction: t.heldOutFraction, excludedRequests: exclude.size, recordedExcludedRequests: t.data.excludedRequests },
  trainedKinds: Object.fromEntries([...new Set(trained.map((e) => e.kind))].sort().map((k) => [k, trained.filter((e) => e.kind === k).length])),
  stages: {
    built: { ...count(built), distinctRequests: new Set(built.map((e) => e.request)).size, distinctRequestsHeldOut: requestsHeldOut(built) },
    subsample: { ...count(sub), distinctRequests: new Set(sub.map((e) => e.request)).size, distinctRequestsHeldOut: requestsHeldOut(sub) },
    trainedOn: { ...count(trained), distinctRequests: new Set(trained.map((e) => e.request)).size, distinctRequestsHeldOut: requestsHeldOut(trained) },
  },
}, null, 1));
