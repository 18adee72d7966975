// The train-reward pipeline's data (src/reward/rewardData.ts): which answers become examples and
// which never do (a request on an eval side of the shared splits, a near copy of an evaluation
// set's, an excluded one), the negatives made from compliant answers, and the split that keeps each
// request's examples on one side. No prompt text is printed: failures name sources and ids.
import { join } from "node:path";
import { PACKAGE_ROOT, SHARED_DIR } from "../../src/paths.js";
import { isNearCopy, nearCopyPairs } from "../../src/data/nearCopy.js";
import { AnswerSides } from "../../src/data/answerSides.js";
import { EVALUATION_SET_FILES, PROMPT_SOURCES, Split, committedPrompts, normalisePrompt } from "../../src/data/splits.js";
import { buildRewardExamples, normalise, splitByGroup, type RewardExample } from "../../src/reward/rewardData.js";

const DATA = join(SHARED_DIR, "data");
/** The kinds labelled helpful (hh-rlhf's chosen answers where that source is in). */
const HELPFUL_KINDS: readonly string[] = ["compliant", "hh-chosen"];
let examples: RewardExample[];
beforeAll(() => {
  examples = buildRewardExamples({ dataDir: DATA, seed: 1 });
});

test("sources: GPTFuzz's train responses, the five XSTest models' answers, hh-rlhf", () => {
  const sources = new Set(examples.map((e) => e.source));
  expect(sources.has("gptfuzz-train")).toBe(true);
  expect(sources.has("hh-rlhf")).toBe(true);
  expect([...sources].filter((s) => s.startsWith("xstest-")).length).toBe(5);
  expect([...sources].filter((s) => s.startsWith("gptfuzz") && s !== "gptfuzz-train")).toEqual([]);
  for (const e of examples) {
    expect(e.answer.trim()).not.toBe("");
    expect(e.label).toBe(HELPFUL_KINDS.includes(e.kind) ? 1 : 0);
  }
});

test("the negatives: an off-topic example is a compliant answer under another request's group, a salad one its words reordered", () => {
  const compliant = examples.filter((e) => e.kind === "compliant");
  const byAnswer = new Map(compliant.map((e) => [e.answer, e]));
  const offTopic = examples.filter((e) => e.kind === "off-topic");
  const salad = examples.filter((e) => e.kind === "salad");
  expect(offTopic.length).toBeGreaterThan(0.3 * compliant.length);
  expect(salad.length).toBeGreaterThan(0.15 * compliant.length);
  for (const e of offTopic) {
    const source = byAnswer.get(e.answer)!;
    expect(source).toBeDefined();
    expect(e.group).not.toBe(source.group);
    expect(normalise(e.request)).not.toBe(normalise(source.request));
  }
  const words = (text: string) => text.split(/\s+/).filter((w) => w !== "").sort().join(" ");
  const compliantWords = new Set(compliant.map((e) => words(e.answer)));
  for (const e of salad) expect(compliantWords.has(words(e.answer))).toBe(true);
  // Seeded: the same seed builds the same examples.
  expect(buildRewardExamples({ dataDir: DATA, seed: 1 })).toEqual(examples);
});

test("held out: no request is on an eval side or dropped by any source's split, nor a near copy of an eval-side prompt or of an evaluation set's (models/eval, models/testbed)", () => {
  // Every source's prompts by side, keyed for the failure message.
  const evalSide: { key: string; prompt: string }[] = [];
  const dropped = new Map<string, string>();
  for (const src of PROMPT_SOURCES) {
    const split = Split.read(PACKAGE_ROOT, src.name);
    for (const p of src.load(DATA)) {
      const side = split.sideOf(p.id);
      if (side === "eval") evalSide.push({ key: `${src.name}:${p.id}`, prompt: p.prompt });
      else if (side === undefined) dropped.set(normalisePrompt(p.prompt), `${src.name}:${p.id}`);
    }
  }
  const sets = EVALUATION_SET_FILES.flatMap((f) => committedPrompts(PACKAGE_ROOT, f).map((prompt, i) => ({ key: `${f}:${i + 1}`, prompt })));
  expect(sets.length).toBe(800);
  const requests = [...new Set(examples.map((e) => e.request))];
  const groupOf = new Map(examples.map((e) => [e.request, e.group]));
  expect(requests.length).toBeGreaterThan(500);
  expect(requests.filter((r) => dropped.has(normalisePrompt(r))).map((r) => `${groupOf.get(r)} = ${dropped.get(normalisePrompt(r))}`)).toEqual([]);
  // Exact copies have equal word sets, so this also finds every request on an eval side.
  const held = [...evalSide, ...sets];
  const leaks = nearCopyPairs(requests, held.map((h) => h.prompt)).map(([i, j]) => `${groupOf.get(requests[i]!)} ~ ${held[j]!.key}`);
  expect(leaks).toEqual([]);
});

test("excluded requests never appear, matched on normalised text, also not as another answer's request", () => {
  const pick = (source: string) => examples.find((e) => e.source.startsWith(source))!.request;
  const excluded = [pick("gptfuzz"), pick("xstest")];
  // Given as the evaluation would: other case, spacing and end punctuation than the data's.
  const exclude = new Set(excluded.map((r) => normalise(` ${r.toUpperCase()}  ?`)));
  const kept = buildRewardExamples({ dataDir: DATA, seed: 1, exclude });
  // The answers themselves (the negatives made from them are random draws, more or fewer).
  const answers = (xs: RewardExample[]) => xs.filter((e) => ["compliant", "refusal", "hh-chosen", "hh-rejected"].includes(e.kind)).length;
  expect(answers(kept)).toBeLessThan(answers(examples));
  const requests = new Set(kept.map((e) => normalise(e.request)));
  for (const r of excluded) expect(requests.has(normalise(r))).toBe(false);
  for (const r of excluded) expect(examples.some((e) => normalise(e.request) === normalise(r))).toBe(true);
});

test("a near copy of an excluded request is left out too (word-set Jaccard >= 0.6), a request it does not copy kept", () => {
  // A long hh-rlhf request with two words added: 10 or more words, so Jaccard >= 10/12.
  const long = examples.find((e) => e.source === "hh-rlhf" && new Set(e.request.toLowerCase().match(/[a-z0-9']+/g)).size >= 10)!.request;
  const kept = buildRewardExamples({ dataDir: DATA, seed: 1, exclude: new Set([normalise(`${long} quickly please`)]) });
  expect(isNearCopy(long, `${long} quickly please`)).toBe(true);
  expect(kept.some((e) => e.request === long)).toBe(false);
  expect(new Set(kept.map((e) => e.request)).size).toBe(new Set(examples.map((e) => e.request)).size - 1);
});

test("the split holds out whole requests: no group on both sides, every example once, about the fraction asked, seeded", () => {
  const { train, heldOut } = splitByGroup(examples, 0.15, 3);
  expect(train.length + heldOut.length).toBe(examples.length);
  const trainGroups = new Set(train.map((e) => e.group));
  const heldGroups = new Set(heldOut.map((e) => e.group));
  expect([...heldGroups].filter((g) => trainGroups.has(g))).toEqual([]);
  const share = heldGroups.size / (heldGroups.size + trainGroups.size);
  expect(share).toBeGreaterThan(0.1);
  expect(share).toBeLessThan(0.2);
  // Off-topic examples take the other request's group, so no request's text is on both sides either.
  const trainRequests = new Set(train.map((e) => normalise(e.request)));
  expect(heldOut.filter((e) => trainRequests.has(normalise(e.request))).length).toBe(0);
  expect(splitByGroup(examples, 0.15, 3)).toEqual({ train, heldOut });
  expect(splitByGroup(examples, 0.15, 4).heldOut).not.toEqual(heldOut);
});

test("hh-rlhf: one-turn dialogues only, chosen (1) and rejected (0) under the same request and group; left out on request", async () => {
  const { loadHhRlhfPairs } = await import("../../src/reward/rewardData.js");
  const pairs = loadHhRlhfPairs(DATA);
  expect(pairs.length).toBeGreaterThan(500); // 662 one-turn dialogues of 2,312, a few with equal answers dropped
  for (const p of pairs) {
    expect(p.request).not.toMatch(/\n\nAssistant:/);
    expect(`${p.chosen}\n${p.rejected}`).not.toMatch(/\n\nHuman:/);
    expect(p.chosen).not.toBe(p.rejected);
  }
  const hh = examples.filter((e) => e.source === "hh-rlhf");
  const byGroup = new Map<string, RewardExample[]>();
  for (const e of hh) byGroup.set(e.group, [...(byGroup.get(e.group) ?? []), e]);
  // Train-side dialogues only (AnswerSides, the split ids), less any near copy of an evaluation set's request.
  const sides = AnswerSides.read(PACKAGE_ROOT);
  const trainPairs = pairs.filter((p) => sides.hhRlhf(p.id) === "train");
  expect(trainPairs.length).toBeLessThan(0.8 * pairs.length);
  const trainGroups = new Set(trainPairs.map((p) => `hh-${p.line}`));
  expect([...byGroup.keys()].filter((g) => !trainGroups.has(g))).toEqual([]);
  expect(byGroup.size).toBeGreaterThan(0.97 * trainPairs.length);
  for (const members of byGroup.values()) {
    expect(members.map((e) => `${e.kind}:${e.label}`).sort()).toEqual(["hh-chosen:1", "hh-rejected:0"]);
    expect(members[0]!.request).toBe(members[1]!.request);
  }
  expect(buildRewardExamples({ dataDir: DATA, seed: 1, hhRlhf: false }).some((e) => e.source === "hh-rlhf")).toBe(false);
});

test("subsampling keeps whole request groups, about the size asked, seeded", async () => {
  const { subsampleGroups } = await import("../../src/reward/trainHead.js");
  const a = subsampleGroups(examples, 800, 1);
  expect(a.length).toBeGreaterThanOrEqual(800);
  expect(a.length).toBeLessThan(900);
  const kept = new Set(a.map((e) => e.group));
  expect(a.length).toBe(examples.filter((e) => kept.has(e.group)).length);
  expect(subsampleGroups(examples, 800, 1)).toEqual(a);
  expect(subsampleGroups(examples, 800, 2)).not.toEqual(a);
  expect(subsampleGroups(examples, undefined, 1)).toBe(examples);
});
