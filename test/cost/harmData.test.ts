// The chat cost model's labelled answers (src/cost/harmData.ts): labels as their sources define
// them, every row on its prompt's side of the committed splits, and no training row whose prompt
// is a near copy of an evaluation prompt (the split test checks the splits themselves).
import { join } from "node:path";
import { SHARED_DIR, PACKAGE_ROOT } from "../../src/paths.js";
import { loadHarmExamples } from "../../src/cost/harmData.js";
import { COMMITTED_EVAL_FILES, committedPrompts } from "../../src/data/splits.js";
import { nearCopyPairs } from "../../src/data/nearCopy.js";
import { isRefusal } from "../../src/cost/refusal.js";

const rows = loadHarmExamples({ dataDir: join(SHARED_DIR, "data") });

test("labels follow their origin", () => {
  for (const r of rows) {
    expect(r.label).toBe(r.kind === "harmful" ? 1 : 0);
    if (r.source === "hh-rlhf") expect(r.kind).toBe("helpful");
    if (r.source === "gptfuzz") expect(r.kind).not.toBe("helpful");
    if (r.source === "smollm2") expect(r.kind === "refusal").toBe(isRefusal(r.text));
  }
  const xsHarmful = rows.filter((r) => r.source === "xstest" && r.kind === "harmful");
  expect(xsHarmful.every((r) => /1_full_compliance on a unsafe prompt/.test(r.origin))).toBe(true);
  expect(new Set(rows.map((r) => r.source))).toEqual(new Set(["xstest", "gptfuzz", "hh-rlhf", "smollm2"]));
});

test("no training row's prompt is a near copy of a committed evaluation prompt or of an eval-side row's prompt", () => {
  const train = rows.filter((r) => r.side === "train");
  const evalPrompts = [...new Set([...rows.filter((r) => r.side === "eval").map((r) => r.prompt), ...COMMITTED_EVAL_FILES.flatMap((f) => committedPrompts(PACKAGE_ROOT, f))])];
  const trainPrompts = [...new Set(train.map((r) => r.prompt))];
  expect(trainPrompts.length).toBeGreaterThan(1000);
  expect(nearCopyPairs(trainPrompts, evalPrompts)).toEqual([]);
});

test("the refusal pattern", () => {
  expect(isRefusal("I'm sorry, but I can't help with that.")).toBe(true);
  expect(isRefusal("I can’t assist with creating malware.")).toBe(true);
  expect(isRefusal("To kill a Python process, run kill followed by its PID.")).toBe(false);
  expect(isRefusal("Here is a long answer. ".repeat(20) + "Note that stealing is illegal.")).toBe(false);
});
