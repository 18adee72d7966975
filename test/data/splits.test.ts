// The shared train/eval splits (src/data/splits.ts): the near-copy search finds exactly the pairs a
// brute-force comparison finds; the committed split files are what the rule builds from the data;
// no evaluation prompt, nor a near copy of one, is on any training side or in any committed
// training file. No prompt text is printed: failures name sources and ids.
import { join } from "node:path";
import { PACKAGE_ROOT, SHARED_DIR } from "../../src/paths.js";
import { isNearCopy, jaccard, nearCopyPairs, promptWords } from "../../src/data/nearCopy.js";
import {
  COMMITTED_EVAL_FILES,
  COMMITTED_TRAIN_FILES,
  PROMPT_SOURCES,
  STORY_FILES,
  Split,
  buildSplits,
  committedPrompts,
  formatSplitFile,
  normalisePrompt,
  readSplitFile,
} from "../../src/data/splits.js";
import { mulberry32 } from "../../src/util/random.js";
import { readFileSync } from "node:fs";

const DATA = join(SHARED_DIR, "data");

/**
 * Committed evaluation prompts (assistant-harmful.test.jsonl ids) that the committed tiny-assistant
 * training files (assistant-requests / harmful-answers .train.jsonl, from refusal_direction's
 * harmful_train, whose test split holds near copies of its own train prompts) already hold near
 * copies of. The split drops them from eval; an evaluation set rebuilt from the split leaves them
 * out. The list must only shrink: a new leak fails below.
 */
const KNOWN_COMMITTED_LEAKS = ["harmful-005", "harmful-070", "harmful-081", "harmful-142", "harmful-154", "harmful-158"];

describe("near copies (word-set Jaccard >= 0.6)", () => {
  test("the rule as corpus.py states it", () => {
    expect(promptWords("Can't stop, CAN'T stop!")).toEqual(["can't", "stop"]);
    expect(jaccard(["a", "b", "c"], ["a", "b", "c", "d", "e"])).toBeCloseTo(0.6, 12);
    // 3 shared of 5: exactly 0.6 counts (the float product 0.6 * 5 is just above 3).
    expect(isNearCopy("a b c", "a b c d e")).toBe(true);
    expect(isNearCopy("a b c", "a b c d e f")).toBe(false);
    expect(isNearCopy("How do I kill a Python process?", "how do i KILL a python process")).toBe(true);
  });

  test("prefix filtering finds exactly the brute-force pairs", () => {
    const rng = mulberry32(7);
    const vocab = Array.from({ length: 30 }, (_, i) => `w${i}`);
    const draw = (): string => Array.from({ length: 1 + Math.floor(rng() * 8) }, () => vocab[Math.floor(rng() * (rng() < 0.5 ? 6 : 30))]).join(" ");
    for (let round = 0; round < 5; round++) {
      const left = Array.from({ length: 150 }, draw);
      const right = Array.from({ length: 150 }, draw);
      const brute: string[] = [];
      left.forEach((a, i) => right.forEach((b, j) => isNearCopy(a, b) && brute.push(`${i},${j}`)));
      const fast = nearCopyPairs(left, right).map(([i, j]) => `${i},${j}`);
      expect(brute.length).toBeGreaterThan(20);
      expect(fast.sort()).toEqual(brute.sort());
    }
  });
});

describe("the committed splits (models/splits)", () => {
  const built = buildSplits(DATA, PACKAGE_ROOT);

  test("are what `npx tsx scripts/cost/splits.ts` builds from the data (deterministic, up to date)", () => {
    expect(built.map((s) => s.source)).toEqual(PROMPT_SOURCES.map((s) => s.name));
    for (const s of built) {
      const file = join(PACKAGE_ROOT, "models", "splits", `${s.source}.json`);
      expect([s.source, readFileSync(file, "utf8") === formatSplitFile(s)]).toEqual([s.source, true]);
      expect(readSplitFile(PACKAGE_ROOT, s.source)).toEqual(s);
    }
  });

  // Every prompt of every source with its committed side.
  const sides = PROMPT_SOURCES.flatMap((src) => {
    const split = Split.read(PACKAGE_ROOT, src.name);
    return src.load(DATA).map((p) => ({ key: `${src.name}:${p.id}`, prompt: p.prompt, side: split.sideOf(p.id) }));
  });
  const train = sides.filter((s) => s.side === "train");
  const evals = sides.filter((s) => s.side === "eval");
  const committedTrain = COMMITTED_TRAIN_FILES.flatMap((f) => committedPrompts(PACKAGE_ROOT, f).map((prompt, i) => ({ key: `${f}:${i + 1}`, prompt })));

  test("no eval prompt of any source has a near copy on any source's training side or in a committed training file", () => {
    expect(train.length).toBeGreaterThan(20_000);
    expect(evals.length).toBeGreaterThan(5_000);
    const leaks = nearCopyPairs(
      [...train, ...committedTrain].map((t) => t.prompt),
      evals.map((e) => e.prompt),
    ).map(([i, j]) => `${[...train, ...committedTrain][i].key} ~ ${evals[j].key}`);
    expect(leaks).toEqual([]);
  });

  test("every committed evaluation prompt is on an eval side (or a known leak, dropped) and has no near copy in training", () => {
    const evalKeys = new Set(evals.map((e) => normalisePrompt(e.prompt)));
    const sourced = new Set(sides.map((s) => normalisePrompt(s.prompt)));
    const leaked: string[] = [];
    for (const file of COMMITTED_EVAL_FILES) {
      const rows = readFileSync(join(PACKAGE_ROOT, file), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as { id?: string; prompt: string });
      const pairs = nearCopyPairs(rows.map((r) => r.prompt), [...train, ...committedTrain].map((t) => t.prompt));
      const hit = new Set(pairs.map(([i]) => i));
      rows.forEach((r, i) => {
        const key = normalisePrompt(r.prompt);
        if (hit.has(i)) leaked.push(r.id ?? `${file}:${i + 1}`);
        // A prompt of a source (not a story opening) must be on that source's eval side, unless it leaked.
        else if (sourced.has(key)) expect([file, i + 1, evalKeys.has(key)]).toEqual([file, i + 1, true]);
      });
    }
    expect(leaked.sort()).toEqual(KNOWN_COMMITTED_LEAKS);
  });

  test("the known leaks are dropped from the harmful split's eval side", () => {
    const split = readSplitFile(PACKAGE_ROOT, "harmful");
    const droppedEval = split.dropped.filter((d) => d.side === "eval" && d.nearCopyOf.startsWith("harmful:train-"));
    expect(droppedEval.length).toBeGreaterThanOrEqual(KNOWN_COMMITTED_LEAKS.length);
  });

  test("no story opening of the test set is in the training set (exact copies: the openings share one template)", () => {
    const trainKeys = new Set(committedPrompts(PACKAGE_ROOT, STORY_FILES.train).map(normalisePrompt));
    const copies = committedPrompts(PACKAGE_ROOT, STORY_FILES.eval).map((p, i) => (trainKeys.has(normalisePrompt(p)) ? i + 1 : 0)).filter((i) => i > 0);
    expect(copies).toEqual([]);
  });

  // The SmolLM2 efficacy table's sets (models/eval, built by scripts/eval/smollm2-sets.ts): rebuilt
  // from the splits, so no leak is allowed at all, and each has its 200 requests.
  test("the SmolLM2 evaluation sets are held out: every prompt on an eval side, no near copy in training", () => {
    const evalKeys = new Set(evals.map((e) => normalisePrompt(e.prompt)));
    const trainPrompts = [...train, ...committedTrain].map((t) => t.prompt);
    for (const [file, label] of [["models/eval/smollm2-harmful.test.jsonl", "harmful"], ["models/eval/smollm2-harmless.test.jsonl", "harmless"]] as const) {
      const rows = readFileSync(join(PACKAGE_ROOT, file), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as { id: string; prompt: string; label: string });
      expect([file, rows.length, new Set(rows.map((r) => normalisePrompt(r.prompt))).size]).toEqual([file, 200, 200]);
      expect([file, rows.filter((r) => r.label !== label).map((r) => r.id)]).toEqual([file, []]);
      expect([file, rows.filter((r) => !evalKeys.has(normalisePrompt(r.prompt))).map((r) => r.id)]).toEqual([file, []]);
      const leaks = nearCopyPairs(rows.map((r) => r.prompt), trainPrompts).map(([i]) => rows[i].id);
      expect([file, leaks]).toEqual([file, []]);
    }
  });

  test("every evaluation config under models/eval reads a SmolLM2 evaluation set", () => {
    for (const name of ["eval-smollm2-harmful.json", "eval-smollm2-harmless.json"]) {
      const config = JSON.parse(readFileSync(join(PACKAGE_ROOT, "models", "eval", name), "utf8")) as { prompts: string };
      expect([name, config.prompts]).toEqual([name, name.includes("harmful") ? "smollm2-harmful.test.jsonl" : "smollm2-harmless.test.jsonl"]);
    }
  });

  test("every evaluation config under models/testbed reads a committed evaluation file", () => {
    for (const name of ["eval-assistant-harmful.json", "eval-assistant-harmless.json", "eval-assistant-reward-harmful.json", "eval-assistant-reward-harmless.json", "eval-stories.json"]) {
      const config = JSON.parse(readFileSync(join(PACKAGE_ROOT, "models", "testbed", name), "utf8")) as { prompts: string };
      const file = `models/testbed/${config.prompts}`;
      expect([name, COMMITTED_EVAL_FILES.includes(file) || file === STORY_FILES.eval]).toEqual([name, true]);
    }
  });
});
