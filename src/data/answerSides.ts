// Which side of the shared splits (splits.ts) an answer of an answer source is on, for every trainer
// that reads answers (the cost model's src/cost/harmData.ts, the reward's src/reward/rewardData.ts):
// one mapping from a row to its prompt's split id, and one near-copy drop against the committed
// evaluation sets, so the trainers cannot disagree on what is held out.
//   XSTest   by prompt id (xstest_prompts.csv `id`, every model's answers to it alike)
//   GPTFuzz  by question index (question_list.csv `index`; responses' `question`)
//   hh-rlhf  by dialogue row (readHhRlhfDialogues's `id`)
import { nearCopyPairs } from "./nearCopy.js";
import { Split, committedPrompts, type SplitSide } from "./splits.js";

/** A row's side; "dropped" when the split keeps its prompt on neither side (a near copy across it). */
export type RowSide = SplitSide | "dropped";

export class AnswerSides {
  private constructor(private readonly splits: { xstest: Split; gptfuzz: Split; hh: Split }) {}

  /** The split files under `root` (models/splits). */
  static read(root: string): AnswerSides {
    return new AnswerSides({ xstest: Split.read(root, "xstest"), gptfuzz: Split.read(root, "gptfuzz"), hh: Split.read(root, "hh-rlhf") });
  }

  xstest(promptId: number): RowSide {
    return this.splits.xstest.sideOf(String(promptId)) ?? "dropped";
  }

  gptfuzz(question: number): RowSide {
    return this.splits.gptfuzz.sideOf(String(question)) ?? "dropped";
  }

  hhRlhf(dialogueId: string): RowSide {
    return this.splits.hh.sideOf(dialogueId) ?? "dropped";
  }
}

/** The prompts of committed evaluation files (paths relative to `root`). */
export function evaluationPrompts(root: string, files: readonly string[]): string[] {
  return files.flatMap((f) => committedPrompts(root, f));
}

/**
 * Indices of `prompts` that are near copies (nearCopy.ts, equal ones included) of any of
 * `evalPrompts`. A prompt on a train side may still be one when a committed training file pins it
 * there (the leaks test/data/splits.test.ts lists): no trainer takes it.
 */
export function nearCopiesOf(prompts: readonly string[], evalPrompts: readonly string[]): Set<number> {
  return new Set(nearCopyPairs(prompts, evalPrompts).map(([i]) => i));
}
