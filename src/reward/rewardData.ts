// The helpfulness reward's training data: (request, answer, label) triples from ../shared/data,
// label 1 = the answer takes the request on (a compliant, on-topic answer), 0 = it does not (a
// refusal, an answer to another request, or its words shuffled into salad); and hh-rlhf's
// one-turn preference pairs (its chosen answer 1, its rejected one 0, the same request).
//
// Helpfulness is not harmlessness: a compliant answer to a harmful request is helpful here (the
// cost model and the budget hold it back; the paper's reward and cost models split the same way).
//
// Held out (issue 26 section 2): only requests on the train side of the shared splits
// (models/splits, mapped by src/data/answerSides.ts as the cost model's data is: XSTest by prompt
// id, GPTFuzz by question, hh-rlhf by dialogue row), never one that is a near copy (word-set
// Jaccard >= 0.6) of a committed evaluation set (EVALUATION_SET_FILES: models/eval's SmolLM2 sets,
// models/testbed's) or of an `exclude` request. All five XSTest models' answers: the judge
// (scripts/testbed/judge.py) now trains on the train-side answers of all five too and is measured on
// the eval side, so leaving its old model (mistralinstruct) out no longer keeps anything apart.
// GPTFuzz: responses_train only (its 80 questions; responses_evaluate's 20 could join on their train
// side, a change of data the shipped heads were not trained on).
import { join } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import { XSTEST_MODELS, loadGptFuzz, loadXsTestAnswers, loadXsTestPrompts, readCsvRecords } from "../data/datasets.js";
import { AnswerSides, evaluationPrompts, nearCopiesOf } from "../data/answerSides.js";
import { EVALUATION_SET_FILES, readHhRlhfDialogues } from "../data/splits.js";
import { PACKAGE_ROOT } from "../paths.js";
import { mulberry32, shuffle } from "../util/random.js";

export type RewardExampleKind = "compliant" | "refusal" | "off-topic" | "salad" | "hh-chosen" | "hh-rejected";

/** Each unhelpful kind and the helpful kind it is paired against (same request) in the pairwise metrics. */
export const PAIRED_KINDS = { refusal: "compliant", "off-topic": "compliant", salad: "compliant", "hh-rejected": "hh-chosen" } as const;

export interface RewardExample {
  request: string;
  answer: string;
  label: 0 | 1;
  kind: RewardExampleKind;
  /** The request's group (same request = same group): splits keep a request's examples together. */
  group: string;
  source: string;
}

/** GPTFuzz answers per question and label when not told (train-reward's --per-question). */
export const DEFAULT_PER_QUESTION = 12;

export interface RewardDataOptions {
  dataDir: string;
  /** Where models/splits and the evaluation sets live (default: the package). */
  root?: string;
  /** Requests never to train on, nor their near copies (normalised: normalise()), besides the evaluation sets'. */
  exclude?: ReadonlySet<string>;
  seed: number;
  /** Off-topic negatives per compliant answer (default 0.5). */
  offTopicRate?: number;
  /** Word-salad negatives per compliant answer (default 0.25). */
  saladRate?: number;
  /** At most this many GPTFuzz answers per question and label (default DEFAULT_PER_QUESTION): its 100 questions have ~60 answers each. */
  perQuestion?: number;
  /** hh-rlhf's one-turn chosen/rejected pairs as a source (default true; the tiny assistant's head was trained without). */
  hhRlhf?: boolean;
}

/** Lowercase, single spaces, no trailing punctuation: how requests are compared with the excluded ones. */
export function normalise(text: string): string {
  return text.toLowerCase().replace(/\s+/g, " ").trim().replace(/[.?!\s]+$/, "");
}

const questionRowSchema = z.object({ index: z.string().regex(/^\d+$/), text: z.string().min(1) });

/** GPTFuzz's question_list.csv: the harmful questions its responses answer, by index. */
export function loadGptFuzzQuestions(dataDir: string): Map<number, string> {
  const path = join(dataDir, "safety", "gptfuzz", "question_list.csv");
  const out = new Map<number, string>();
  for (const r of readCsvRecords(path, ["index", "text"])) {
    const row = questionRowSchema.safeParse(r.values);
    if (!row.success) throw new UserError(`${path}: line ${r.line}: expected index,text`);
    out.set(Number(row.data.index), row.data.text);
  }
  return out;
}

const ONE_TURN = /^\s*Human: ([\s\S]*?)\n\nAssistant: ([\s\S]*)$/;

/**
 * hh-rlhf harmless-base's one-turn dialogues (one Human turn, then the answers): request, the chosen
 * answer and the rejected one (the more harmful of the two, a preference); `id` is the dialogue's
 * split id, `line` its line in the file. Multi-turn dialogues are left out: the head renders one
 * user message.
 */
export function loadHhRlhfPairs(dataDir: string): { request: string; chosen: string; rejected: string; id: string; line: number }[] {
  const out: { request: string; chosen: string; rejected: string; id: string; line: number }[] = [];
  for (const d of readHhRlhfDialogues(dataDir)) {
    const c = ONE_TURN.exec(d.chosen);
    const r = ONE_TURN.exec(d.rejected);
    if (c === null || r === null || /\n\nHuman:/.test(c[2]!) || /\n\nHuman:/.test(r[2]!) || c[1] !== r[1]) continue;
    const [chosen, rejected] = [c[2]!.trim(), r[2]!.trim()];
    if (chosen === "" || rejected === "" || chosen === rejected) continue;
    out.push({ request: c[1]!.trim(), chosen, rejected, id: d.id, line: d.line });
  }
  return out;
}

/** The answer's words in a seeded random order: fluent-looking pieces that answer nothing. */
function salad(text: string, random: () => number): string {
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  shuffle(words, random);
  return words.join(" ");
}

export function buildRewardExamples(o: RewardDataOptions): RewardExample[] {
  const random = mulberry32(o.seed);
  const root = o.root ?? PACKAGE_ROOT;
  const exclude = o.exclude ?? new Set<string>();
  const sides = AnswerSides.read(root);
  const perQuestion = o.perQuestion ?? DEFAULT_PER_QUESTION;
  const candidates: RewardExample[] = [];
  const questions = loadGptFuzzQuestions(o.dataDir);
  const taken = new Map<string, number>();
  for (const r of loadGptFuzz(o.dataDir, "train")) {
    const request = questions.get(r.question);
    if (request === undefined || sides.gptfuzz(r.question) !== "train" || r.text.trim() === "") continue;
    const key = `${r.question}:${r.label}`;
    if ((taken.get(key) ?? 0) >= perQuestion) continue;
    taken.set(key, (taken.get(key) ?? 0) + 1);
    candidates.push({ request, answer: r.text.trim(), label: r.label, kind: r.label === 1 ? "compliant" : "refusal", group: `gptfuzz-${r.question}`, source: "gptfuzz-train" });
  }
  const prompts = loadXsTestPrompts(o.dataDir);
  for (const model of XSTEST_MODELS) {
    for (const a of loadXsTestAnswers(o.dataDir, model, prompts)) {
      const request = prompts.find((p) => p.id === a.promptId)!.prompt;
      if (sides.xstest(a.promptId) !== "train" || a.text.trim() === "" || a.finalLabel === "3_partial_refusal") continue;
      const compliant = a.finalLabel === "1_full_compliance";
      candidates.push({ request, answer: a.text.trim(), label: compliant ? 1 : 0, kind: compliant ? "compliant" : "refusal", group: `xstest-${a.promptId}`, source: `xstest-${model}` });
    }
  }
  if (o.hhRlhf ?? true) {
    for (const p of loadHhRlhfPairs(o.dataDir)) {
      if (sides.hhRlhf(p.id) !== "train") continue;
      const group = `hh-${p.line}`;
      candidates.push({ request: p.request, answer: p.chosen, label: 1, kind: "hh-chosen", group, source: "hh-rlhf" });
      candidates.push({ request: p.request, answer: p.rejected, label: 0, kind: "hh-rejected", group, source: "hh-rlhf" });
    }
  }
  // A train-side request may still be an excluded one or a near copy of an evaluation set's (a
  // committed training file pins some near copies to train): never train on it.
  const requests = [...new Set(candidates.map((e) => e.request))];
  const near = nearCopiesOf(requests, [...evaluationPrompts(root, EVALUATION_SET_FILES), ...exclude]);
  const held = new Set(requests.filter((r, i) => near.has(i) || exclude.has(normalise(r))));
  const base = candidates.filter((e) => !held.has(e.request));
  const compliant = base.filter((e) => e.kind === "compliant");
  const extra: RewardExample[] = [];
  for (const e of compliant) {
    if (random() < (o.offTopicRate ?? 0.5)) {
      // The same answer under another request: it answers, but not this.
      let other = base[Math.floor(random() * base.length)]!;
      for (let tries = 0; other.group === e.group && tries < 8; tries++) other = base[Math.floor(random() * base.length)]!;
      if (other.group !== e.group) extra.push({ ...e, request: other.request, group: other.group, label: 0, kind: "off-topic" });
    }
    if (random() < (o.saladRate ?? 0.25)) extra.push({ ...e, answer: salad(e.answer, random), label: 0, kind: "salad" });
  }
  return [...base, ...extra];
}

/**
 * Splits examples by request group: a `fraction` of the groups (seeded) is held out. Groups that
 * share a request (the same question in two datasets, or twice in one) go to the same side, so no
 * held-out request was trained on.
 */
export function splitByGroup(examples: readonly RewardExample[], fraction: number, seed: number): { train: RewardExample[]; heldOut: RewardExample[] } {
  const sideOf = sameRequestGroups(examples);
  const groups = [...new Set(examples.map((e) => sideOf(e.group)))].sort();
  const random = mulberry32(seed * 31 + 7);
  const held = new Set(groups.filter(() => random() < fraction));
  return { train: examples.filter((e) => !held.has(sideOf(e.group))), heldOut: examples.filter((e) => held.has(sideOf(e.group))) };
}

/** Each group's representative (the first in sort order) among the groups linked by a shared normalised request. */
function sameRequestGroups(examples: readonly RewardExample[]): (group: string) => string {
  const parent = new Map<string, string>();
  const find = (g: string): string => {
    let root = g;
    while (parent.get(root) !== undefined && parent.get(root) !== root) root = parent.get(root)!;
    parent.set(g, root);
    return root;
  };
  const firstGroup = new Map<string, string>();
  for (const e of examples) {
    if (!parent.has(e.group)) parent.set(e.group, e.group);
    const request = normalise(e.request);
    const other = firstGroup.get(request);
    if (other === undefined) firstGroup.set(request, e.group);
    else {
      const [a, b] = [find(e.group), find(other)];
      if (a !== b) parent.set(a < b ? b : a, a < b ? a : b);
    }
  }
  return find;
}
