// Labelled answers for a chat cost model that charges harm (issue 26), every label's origin said,
// every row on its prompt's side of the shared splits (src/data/splits.ts). Never the judge's labels.
//
//   xstest   the five models' answers, human labels: unsafe prompt + 1_full_compliance = harmful
//            (1); safe prompt + 1_full_compliance = helpful (0); 2_full_refusal = refusal (0);
//            3_partial_refusal is left out (part harm, part refusal: no clean label).
//   gptfuzz  responses_train + responses_evaluate, the source's own label (1 jailbroken, 0 refusal).
//   hh-rlhf  the chosen dialogue's last assistant turn, harmless (0): the source's preference for
//            the less harmful answer (the rejected one is only "more harmful", so it is not used).
//   smollm2  SmolLM2-135M-Instruct's own plain-sampled answers to harmful_train / harmless_train
//            requests (models/cost/smollm2-answers.jsonl): request and compliance, as HarmBench
//            counts it: a compliant answer to a harmful request is harmful (1), to a harmless one
//            helpful (0); a refusal (refusal.ts's pattern) is a refusal (0). Its answers to the
//            committed harmless eval requests are the eval rows for the shipped model's charges.
import { join } from "node:path";
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { PACKAGE_ROOT } from "../paths.js";
import { readJsonLinesFile } from "../util/jsonLines.js";
import { XSTEST_MODELS, loadGptFuzz, readCsvRecords, loadXsTestAnswers, loadXsTestPrompts } from "../data/datasets.js";
import { COMMITTED_EVAL_FILES, Split, hhFirstPrompt, readHhRlhfDialogues } from "../data/splits.js";
import { AnswerSides, evaluationPrompts, nearCopiesOf, type RowSide } from "../data/answerSides.js";
import { isRefusal } from "./refusal.js";

export type HarmSource = "xstest" | "gptfuzz" | "hh-rlhf" | "smollm2";

export interface HarmExample {
  text: string;
  /** 1 = harmful answer, 0 = helpful answer or refusal. */
  label: 0 | 1;
  kind: "harmful" | "helpful" | "refusal";
  source: HarmSource;
  /** The prompt's split side; "dropped" when the split keeps it on neither (a near copy). */
  side: RowSide;
  /** The prompt's split id, `SPLITSOURCE:ID`. */
  promptId: string;
  prompt: string;
  /** How the label was made, in a few words. */
  origin: string;
  /** The answering model, where the source has several. */
  model?: string;
}

/** SmolLM2's own answers, as committed (one line per answer). */
export const DEFAULT_SMOLLM2_ANSWERS = join(PACKAGE_ROOT, "models", "cost", "smollm2-answers.jsonl");

const ownAnswerSchema = z.object({
  /** The request's split id, e.g. "harmful:train-12", or "eval:harmless-004" for a committed eval request. */
  promptId: z.string().regex(/^[a-z-]+:.+$/),
  request: z.string().min(1),
  label: z.enum(["harmful", "harmless"]),
  text: z.string(),
}).loose();
export type OwnAnswer = z.infer<typeof ownAnswerSchema>;

export function readOwnAnswers(path: string): OwnAnswer[] {
  return readJsonLinesFile(path, { noun: "answers file", shape: '{"promptId", "request", "label", "text"}', schema: ownAnswerSchema, describe: describeZodError });
}

export interface HarmDataOptions {
  dataDir: string;
  /** Where models/splits lives (default: the package). */
  root?: string;
  /** SmolLM2's answers (default models/cost/smollm2-answers.jsonl); false: none. */
  ownAnswers?: string | false;
}

/** Every labelled answer of every source, with its split side (callers pick sides). */
export function loadHarmExamples(o: HarmDataOptions): HarmExample[] {
  const root = o.root ?? PACKAGE_ROOT;
  const out: HarmExample[] = [];
  const push = (e: HarmExample): void => {
    if (e.text.trim() !== "") out.push({ ...e, text: e.text.trim() });
  };

  const sides = AnswerSides.read(root);
  const prompts = loadXsTestPrompts(o.dataDir);
  const xsPrompt = new Map(prompts.map((p) => [p.id, p.prompt]));
  for (const model of XSTEST_MODELS) {
    for (const a of loadXsTestAnswers(o.dataDir, model, prompts)) {
      if (a.finalLabel === "3_partial_refusal") continue;
      const complied = a.finalLabel === "1_full_compliance";
      const kind = !complied ? "refusal" : a.promptLabel === "unsafe" ? "harmful" : "helpful";
      push({
        text: a.text, label: kind === "harmful" ? 1 : 0, kind, source: "xstest", model,
        side: sides.xstest(a.promptId), promptId: `xstest:${a.promptId}`, prompt: xsPrompt.get(a.promptId)!,
        origin: `XSTest human label ${a.finalLabel} on a ${a.promptLabel} prompt`,
      });
    }
  }

  const questions = new Map(
    readCsvRecords(join(o.dataDir, "safety", "gptfuzz", "question_list.csv"), ["index", "text"]).map((r) => [Number(r.values.index), r.values.text!] as const),
  );
  for (const split of ["train", "evaluate"] as const) {
    for (const r of loadGptFuzz(o.dataDir, split)) {
      push({
        text: r.text, label: r.label, kind: r.label === 1 ? "harmful" : "refusal", source: "gptfuzz",
        side: sides.gptfuzz(r.question), promptId: `gptfuzz:${r.question}`, prompt: questions.get(r.question) ?? "",
        origin: `GPTFuzz's own label ${r.label} (responses_${split}.csv)`,
      });
    }
  }

  for (const { id, chosen } of readHhRlhfDialogues(o.dataDir)) {
    const turns = chosen.split("\n\nAssistant:");
    const last = turns[turns.length - 1]!.split("\n\nHuman:")[0]!;
    push({
      text: last, label: 0, kind: "helpful", source: "hh-rlhf",
      side: sides.hhRlhf(id), promptId: `hh-rlhf:${id}`, prompt: hhFirstPrompt(chosen),
      origin: "hh-rlhf harmless-base chosen answer (the preferred, less harmful one)",
    });
  }

  if (o.ownAnswers !== false) {
    const splits = { harmful: Split.read(root, "harmful"), harmless: Split.read(root, "harmless") };
    for (const a of readOwnAnswers(o.ownAnswers ?? DEFAULT_SMOLLM2_ANSWERS)) {
      const [src, id] = [a.promptId.slice(0, a.promptId.indexOf(":")), a.promptId.slice(a.promptId.indexOf(":") + 1)];
      let side: RowSide;
      if (src === "eval") side = "eval";
      else if (src === "harmful" || src === "harmless") side = splits[src].sideOf(id) ?? "dropped";
      else throw new UserError(`answers file: unknown request source in promptId ${a.promptId}`);
      const refused = isRefusal(a.text);
      const kind = refused ? "refusal" : a.label === "harmful" ? "harmful" : "helpful";
      push({
        text: a.text, label: kind === "harmful" ? 1 : 0, kind, source: "smollm2", model: "SmolLM2-135M-Instruct",
        side, promptId: a.promptId, prompt: a.request,
        origin: refused ? "request + compliance: a refusal by pattern" : `request + compliance: a compliant answer to a ${a.label} request`,
      });
    }
  }
  // A training prompt pinned to train by a committed training file may still be a near copy of a
  // committed evaluation prompt (the leaks test/data/splits.test.ts lists): never train on it.
  const trainIdx = out.flatMap((e, i) => (e.side === "train" ? [i] : []));
  for (const i of nearCopiesOf(trainIdx.map((i) => out[i]!.prompt), evaluationPrompts(root, COMMITTED_EVAL_FILES))) out[trainIdx[i]!]!.side = "dropped";
  return out;
}
