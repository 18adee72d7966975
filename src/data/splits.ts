// One train/eval split per prompt source, shared by every trainer (cost model, reward, critic,
// judge) and every evaluation set, so that no evaluation prompt, nor a near copy of one (the
// Jaccard rule of nearCopy.ts, applied across sources too), is ever trained on.
//
// `npx tsx scripts/cost/splits.ts` builds them from ../shared/data and writes models/splits/SOURCE.json;
// test/data/splits.test.ts checks that the committed files are what the rule gives and that no
// committed training file holds an evaluation prompt. How a prompt is assigned:
//   1. prompts of the committed evaluation files (models/testbed/*.test.jsonl) are eval, prompts
//      of the committed training files are train (they were built before these splits);
//   2. a source's own split where it has one (prompts/*_test.json eval, *_train/_val train);
//   3. else a hash of the prompt's normalised text: a fixed share is eval (the same text always
//      lands on the same side, whatever its row);
//   4. a train prompt that is a near copy of any eval prompt (of any source) is dropped from
//      training; when the train prompt is pinned by step 1, the eval prompt is dropped instead
//      (both pinned is a leak in the committed data: the eval prompt is dropped, and the split
//      test lists such prompts, so an evaluation set rebuilt from the split leaves them out).
// Answers (GPTFuzz, XSTest, hh-rlhf) follow their prompt's side.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import { z } from "zod";
import { UserError } from "../errors.js";
import { writeFileAtomic } from "../util/files.js";
import { fileSha256Sync, sha256HexSchema } from "../util/fileHash.js";
import { readUserFile } from "../util/files.js";
import { readCsvRecords, loadXsTestPrompts } from "./datasets.js";
import { NEAR_COPY_JACCARD, nearCopyPairs } from "./nearCopy.js";

export const SPLIT_FORMAT = "inference-guard-split";
export const SPLIT_FORMAT_VERSION = 1;

export type SplitSide = "train" | "eval";

/** One prompt of a source. */
export interface SourcePrompt {
  /** Stable id within the source (a row id, or FILE-INDEX). */
  id: string;
  prompt: string;
  /** The source's own side, where it has its own split. */
  side?: SplitSide;
}

export interface PromptSource {
  name: string;
  /** Files read, relative to the data folder (their sha256 goes into the split file). */
  files: string[];
  /** Share of prompts that go to eval by hash, for a source without its own split. */
  evalShare?: number;
  load(dataDir: string): SourcePrompt[];
}

const readJson = (path: string): unknown => JSON.parse(readUserFile(path, "data file", "utf8"));

/** The hh-rlhf file every trainer reads (harmless-base's test split), relative to the data folder. */
export const HH_RLHF_FILE = "safety/hh-rlhf/harmless-base-test.jsonl.gz";

const hhRowSchema = z.object({ chosen: z.string(), rejected: z.string() });

/**
 * hh-rlhf's dialogues as the split numbers them: one per non-empty line, `id` its index among them
 * (the split id of models/splits/hh-rlhf.json), `line` its 1-based line in the file.
 */
export function readHhRlhfDialogues(dataDir: string): { id: string; line: number; chosen: string; rejected: string }[] {
  const path = join(dataDir, HH_RLHF_FILE);
  const out: { id: string; line: number; chosen: string; rejected: string }[] = [];
  gunzipSync(readUserFile(path, "hh-rlhf data file")).toString("utf8").split("\n").forEach((text, i) => {
    if (text.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UserError(`${path}: line ${i + 1}: not JSON`);
    }
    const row = hhRowSchema.safeParse(parsed);
    if (!row.success) throw new UserError(`${path}: line ${i + 1}: expected {chosen, rejected}`);
    out.push({ id: String(out.length), line: i + 1, ...row.data });
  });
  return out;
}

/** The first human turn of an hh-rlhf dialogue. */
export function hhFirstPrompt(dialogue: string): string {
  const m = /Human:\s*([\s\S]*?)\n\nAssistant:/.exec(dialogue);
  return (m ? m[1] : dialogue).trim();
}

const promptSetSource = (kind: "harmful" | "harmless"): PromptSource => ({
  name: kind,
  files: ["train", "val", "test"].map((s) => `safety/prompts/${kind}_${s}.json`),
  load(dataDir) {
    return (["train", "val", "test"] as const).flatMap((s) =>
      (readJson(join(dataDir, "safety", "prompts", `${kind}_${s}.json`)) as Array<{ instruction: string }>).map((r, i) => ({
        id: `${s}-${i}`,
        prompt: r.instruction,
        side: (s === "test" ? "eval" : "train") as SplitSide,
      })),
    );
  },
});

/** Every prompt source with a split, in build order. */
export const PROMPT_SOURCES: readonly PromptSource[] = [
  {
    name: "xstest",
    files: ["safety/xstest/xstest_prompts.csv"],
    // Less than the others: its scary-but-safe prompts are what teaches a cost model that a topic
    // word is not harm, and its prompts come in near-duplicate families, so many train ones drop.
    evalShare: 0.25,
    load: (dataDir) => loadXsTestPrompts(dataDir).map((p) => ({ id: String(p.id), prompt: p.prompt })),
  },
  {
    name: "gptfuzz",
    files: ["safety/gptfuzz/question_list.csv"],
    evalShare: 0.3,
    load: (dataDir) =>
      readCsvRecords(join(dataDir, "safety", "gptfuzz", "question_list.csv"), ["index", "text"]).map((r) => ({ id: r.values.index!, prompt: r.values.text! })),
  },
  promptSetSource("harmful"),
  promptSetSource("harmless"),
  {
    name: "advbench",
    files: ["safety/prompts/advbench.csv"],
    evalShare: 0.3,
    load: (dataDir) => readCsvRecords(join(dataDir, "safety", "prompts", "advbench.csv"), ["goal"]).map((r, i) => ({ id: String(i), prompt: r.values.goal! })),
  },
  {
    name: "strongreject",
    files: ["safety/prompts/strongreject.csv"],
    evalShare: 0.3,
    load: (dataDir) =>
      readCsvRecords(join(dataDir, "safety", "prompts", "strongreject.csv"), ["forbidden_prompt"]).map((r, i) => ({ id: String(i), prompt: r.values.forbidden_prompt! })),
  },
  {
    name: "donotanswer",
    files: DONOTANSWER_FILES(),
    evalShare: 0.3,
    load(dataDir) {
      return DONOTANSWER_FILES().flatMap((f) =>
        readUserFile(join(dataDir, f), "data file", "utf8")
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l, i) => ({ id: `${f.split("/").pop()!.replace(/\.jsonl$/, "")}-${i}`, prompt: (JSON.parse(l) as { prompt: string }).prompt })),
      );
    },
  },
  {
    name: "hh-rlhf",
    files: [HH_RLHF_FILE],
    evalShare: 0.3,
    load: (dataDir) => readHhRlhfDialogues(dataDir).map((d) => ({ id: d.id, prompt: hhFirstPrompt(d.chosen) })),
  },
];

function DONOTANSWER_FILES(): string[] {
  return [
    "discrimination_exclusion_toxicity_hateful_offensive",
    "human_chatbox",
    "information_hazard",
    "malicious_uses",
    "misinformation_harms",
  ].map((n) => `safety/donotanswer/${n}.jsonl`);
}

/** Committed prompt files (relative to the package root) whose side is fixed: they predate the splits. */
export const COMMITTED_EVAL_FILES = [
  "models/testbed/assistant-harmful.test.jsonl",
  "models/testbed/assistant-harmless.test.jsonl",
];
/**
 * Every committed evaluation set: the files above and the SmolLM2 efficacy table's sets (built from
 * the eval sides by scripts/eval/smollm2-sets.ts). No trainer takes a prompt that is a near copy of
 * one of these, whatever its split side.
 */
export const EVALUATION_SET_FILES = [...COMMITTED_EVAL_FILES, "models/eval/smollm2-harmful.test.jsonl", "models/eval/smollm2-harmless.test.jsonl"];

/** Committed training files: a `prompt` or `request` field per line. */
export const COMMITTED_TRAIN_FILES = [
  "models/testbed/assistant-requests.train.jsonl",
  "models/testbed/harmful-answers.train.jsonl",
  "models/testbed/harmless-answers.train.jsonl",
];
/**
 * The story testbed's openings: all "Once upon a time, there was a ..." templates, so the word-set
 * rule calls most pairs near copies; they are checked for exact copies only.
 */
export const STORY_FILES = { eval: "models/testbed/story-openings.test.jsonl", train: "models/testbed/story-openings.train.jsonl" };

/** The prompts (or requests) of a committed JSONL file. */
export function committedPrompts(root: string, file: string): string[] {
  return readUserFile(join(root, file), "prompts file", "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const row = JSON.parse(l) as { prompt?: unknown; request?: unknown };
      const p = row.prompt ?? row.request;
      if (typeof p !== "string") throw new UserError(`${file}: a line has no prompt or request`);
      return p;
    });
}

/** A prompt's normalised text: what "the same prompt" means across rows and sources. */
export function normalisePrompt(text: string): string {
  return text.trim().replace(/\s+/g, " ").toLowerCase();
}

/** A number in [0, 1) from the prompt's text and source: the hash side of rule 3. */
export function promptHash(source: string, prompt: string): number {
  const h = createHash("sha256").update(`split-v1\0${source}\0${normalisePrompt(prompt)}`).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

export const splitFileSchema = z.object({
  format: z.literal(SPLIT_FORMAT),
  formatVersion: z.literal(SPLIT_FORMAT_VERSION),
  source: z.string().min(1),
  rule: z.string(),
  inputs: z.array(z.object({ path: z.string(), sha256: sha256HexSchema })),
  counts: z.object({ prompts: z.int(), train: z.int(), eval: z.int(), droppedFromTrain: z.int(), droppedFromEval: z.int() }),
  /** Ids on the eval side (kept). */
  eval: z.array(z.string()),
  /** Ids dropped from either side for a near copy across the split, with what they copy. */
  dropped: z.array(z.object({ id: z.string(), side: z.enum(["train", "eval"]), nearCopyOf: z.string() })),
});
export type SplitFile = z.infer<typeof splitFileSchema>;

/** Builds every source's split (deterministic: the same data gives the same files). */
export function buildSplits(dataDir: string, root: string): SplitFile[] {
  const pinnedEval = new Set(COMMITTED_EVAL_FILES.flatMap((f) => committedPrompts(root, f)).map(normalisePrompt));
  const pinnedTrain = new Set(COMMITTED_TRAIN_FILES.flatMap((f) => committedPrompts(root, f)).map(normalisePrompt));
  type Row = { source: string; id: string; prompt: string; side: SplitSide; pinned: boolean; dropped?: string };
  const rows: Row[] = [];
  for (const src of PROMPT_SOURCES) {
    for (const p of src.load(dataDir)) {
      const key = normalisePrompt(p.prompt);
      const pinned: SplitSide | undefined = pinnedEval.has(key) ? "eval" : pinnedTrain.has(key) ? "train" : undefined;
      const side: SplitSide = pinned ?? p.side ?? (promptHash(src.name, p.prompt) < (src.evalShare ?? 0) ? "eval" : "train");
      // In a committed eval file and a committed training file alike: a leak, kept on neither side.
      const leak = pinnedEval.has(key) && pinnedTrain.has(key) ? "a committed training file" : undefined;
      rows.push({ source: src.name, id: p.id, prompt: p.prompt, side, pinned: pinned !== undefined, dropped: leak });
    }
  }
  const train = rows.filter((r) => r.side === "train" && !r.dropped);
  const evals = rows.filter((r) => r.side === "eval" && !r.dropped);
  for (const [i, j] of nearCopyPairs(
    train.map((r) => r.prompt),
    evals.map((r) => r.prompt),
  )) {
    const t = train[i];
    const e = evals[j];
    if (t.pinned) e.dropped ??= `${t.source}:${t.id}`;
    else t.dropped ??= `${e.source}:${e.id}`;
  }
  return PROMPT_SOURCES.map((src) => {
    const mine = rows.filter((r) => r.source === src.name);
    const rule = src.evalShare !== undefined
      ? `eval: prompts of ${COMMITTED_EVAL_FILES.join(", ")}, else sha256 share ${src.evalShare}; train: the rest`
      : `eval: the source's test split and prompts of the committed eval files; train: its train and val splits`;
    return {
      format: SPLIT_FORMAT,
      formatVersion: SPLIT_FORMAT_VERSION,
      source: src.name,
      rule: `${rule}; a train prompt that is a near copy (word-set Jaccard >= ${NEAR_COPY_JACCARD}) of any source's eval prompt is dropped (the eval prompt instead when the train prompt is in a committed training file)`,
      inputs: src.files.map((f) => ({ path: f, sha256: fileSha256Sync(join(dataDir, f)) })),
      counts: {
        prompts: mine.length,
        train: mine.filter((r) => r.side === "train" && !r.dropped).length,
        eval: mine.filter((r) => r.side === "eval" && !r.dropped).length,
        droppedFromTrain: mine.filter((r) => r.side === "train" && r.dropped).length,
        droppedFromEval: mine.filter((r) => r.side === "eval" && r.dropped).length,
      },
      eval: mine.filter((r) => r.side === "eval" && !r.dropped).map((r) => r.id),
      dropped: mine.filter((r) => r.dropped).map((r) => ({ id: r.id, side: r.side, nearCopyOf: r.dropped! })),
    };
  });
}

/** Where the committed split files live. */
export const SPLITS_DIR = "models/splits";

export function splitFilePath(root: string, source: string): string {
  return join(root, SPLITS_DIR, `${source}.json`);
}

/** Reads one source's committed split. */
export function readSplitFile(root: string, source: string): SplitFile {
  const path = splitFilePath(root, source);
  if (!existsSync(path)) throw new UserError(`no split for ${source}: ${relative(root, path)} is missing (run npx tsx scripts/cost/splits.ts)`);
  const parsed = splitFileSchema.safeParse(JSON.parse(readUserFile(path, "split file", "utf8")));
  if (!parsed.success) throw new UserError(`${path} is not a split file: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** A source's side of each prompt id: "train", "eval", or undefined (dropped). */
export class Split {
  private readonly evalIds: Set<string>;
  private readonly droppedIds: Set<string>;
  constructor(readonly file: SplitFile) {
    this.evalIds = new Set(file.eval);
    this.droppedIds = new Set(file.dropped.map((d) => d.id));
  }
  static read(root: string, source: string): Split {
    return new Split(readSplitFile(root, source));
  }
  sideOf(id: string): SplitSide | undefined {
    if (this.droppedIds.has(id)) return undefined;
    return this.evalIds.has(id) ? "eval" : "train";
  }
}

/** Writes the split files (one JSON per source, ids one per line so diffs stay readable). */
export function writeSplitFiles(root: string, splits: readonly SplitFile[]): void {
  for (const s of splits) writeFileAtomic(splitFilePath(root, s.source), formatSplitFile(s));
}

export function formatSplitFile(s: SplitFile): string {
  const { eval: ids, dropped, ...head } = s;
  const lines = (xs: readonly unknown[]): string => (xs.length === 0 ? "[]" : `[\n${xs.map((x) => "  " + JSON.stringify(x)).join(",\n")}\n]`);
  const headJson = JSON.stringify(head, null, 1).slice(0, -2);
  return `${headJson},\n"eval": ${lines(ids)},\n"dropped": ${lines(dropped)}\n}\n`;
}
