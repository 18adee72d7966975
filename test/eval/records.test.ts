// The append-only record file: whole lines survive, a torn line is cut off, other settings are refused.
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/errors.js";
import { RECORDS_FILE, RecordStore, recordKey, type EvalRecord, type RunFingerprint } from "../../src/eval/records.js";

const fingerprint: RunFingerprint = {
  model: "/m.gguf", modelBytes: 10, cost: "rules:/x.json", reward: "logprob", critic: null, budget: 1, maxTokens: 50, chat: false, system: null, scanWidth: 8,
};

function record(prompt: number, method: string, seed: number, extra: Partial<EvalRecord> = {}): EvalRecord {
  return {
    prompt, promptHash: `h${prompt}`, method, seed, text: "a story", reward: -1, cost: 0, maxCumulativeCost: 0, withinBudget: true,
    tokens: 3, seconds: 0.01, stopReason: "eog", fallback: false, resamples: 0, ...extra,
  };
}

const fresh = () => mkdtempSync(join(tmpdir(), "inference-guard-records-"));

test("records survive a reopen, keyed by (prompt, method, seed)", () => {
  const dir = fresh();
  const store = RecordStore.open(dir, fingerprint);
  store.append(record(0, "greedy", 1));
  store.append(record(0, "greedy", 2, { label: "harmless" }));
  expect(() => store.append(record(0, "greedy", 1))).toThrow(/recorded already/);
  store.close();
  const again = RecordStore.open(dir, fingerprint);
  expect(again.all()).toHaveLength(2);
  expect(again.has(recordKey({ prompt: 0, method: "greedy", seed: 2 }))).toBe(true);
  expect(again.get(recordKey({ prompt: 0, method: "greedy", seed: 2 }))!.label).toBe("harmless");
  again.close();
});

test("a line torn by a crash is cut off; the next append starts on a clean line", () => {
  const dir = fresh();
  const store = RecordStore.open(dir, fingerprint);
  store.append(record(0, "greedy", 1));
  store.close();
  appendFileSync(join(dir, RECORDS_FILE), '{"prompt":1,"promptHash":"h1","meth');
  const again = RecordStore.open(dir, fingerprint);
  expect(again.all()).toHaveLength(1);
  again.append(record(1, "greedy", 1));
  again.close();
  const lines = readFileSync(join(dir, RECORDS_FILE), "utf8").trim().split("\n");
  expect(lines.map((l) => JSON.parse(l).prompt)).toEqual([0, 1]);
});

test("a folder made with other settings, or with damaged records, is refused", () => {
  const dir = fresh();
  RecordStore.open(dir, fingerprint).close();
  expect(() => RecordStore.open(dir, { ...fingerprint, budget: 2 })).toThrow(UserError);
  expect(() => RecordStore.open(dir, { ...fingerprint, budget: 2, maxTokens: 9 })).toThrow(/budget 1 -> 2, maxTokens 50 -> 9/);
  writeFileSync(join(dir, RECORDS_FILE), "not json\n");
  expect(() => RecordStore.open(dir, fingerprint)).toThrow(/records\.jsonl:1 is not valid JSON/);
  writeFileSync(join(dir, RECORDS_FILE), JSON.stringify({ prompt: 0 }) + "\n");
  expect(() => RecordStore.open(dir, fingerprint)).toThrow(/records\.jsonl:1: /);
  const line = JSON.stringify(record(0, "greedy", 1)) + "\n";
  writeFileSync(join(dir, RECORDS_FILE), line + line);
  expect(() => RecordStore.open(dir, fingerprint)).toThrow(/repeats prompt 0, method greedy, seed 1/);
  writeFileSync(join(dir, "run.json"), "{}");
  expect(() => RecordStore.open(dir, fingerprint)).toThrow(/run\.json is corrupt/);
  // A folder from before branch auto became the guard's default: its guard records mean the full search.
  writeFileSync(join(dir, "run.json"), JSON.stringify({ version: 1, fingerprint }));
  expect(() => RecordStore.open(dir, fingerprint)).toThrow(/another inference-guard version \(run format 1, this one writes 2: guard methods now default to branch auto\)/);
});

test("the disk refuses a record: one line naming the file and why, the refused line cut off, the run resumable", async () => {
  // A file size limit (ulimit -f) makes write(2) fail with EFBIG as a full disk fails with ENOSPC;
  // in a plain node process (the compiled store), as batch's test of the same log does.
  const { spawn } = await import("node:child_process");
  const { PACKAGE_ROOT } = await import("../../src/paths.js");
  const dir = fresh();
  const script = `
    const { RecordStore } = await import(${JSON.stringify(join(PACKAGE_ROOT, "dist", "eval", "records.js"))});
    const store = RecordStore.open(${JSON.stringify(dir)}, ${JSON.stringify(fingerprint)});
    let n = 0;
    try {
      for (; n < 100; n++) store.append({ ...${JSON.stringify(record(0, "greedy", 0))}, seed: n, text: "x".repeat(300) });
      process.stdout.write("no error\\n");
    } catch (error) {
      process.stdout.write(JSON.stringify({ n, name: error.name, message: error.message }) + "\\n");
    }
    store.close();`;
  const limited = spawn("bash", ["-c", `ulimit -f 4 && exec "$0" --input-type=module -e "$1"`, process.execPath, script], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  limited.stdout!.on("data", (d) => (stdout += d));
  expect(await new Promise((resolve) => limited.on("exit", resolve))).toBe(0);
  const report = JSON.parse(stdout);
  expect(report.name).toBe("UserError");
  expect(report.message).toBe(`cannot write ${join(dir, RECORDS_FILE)}: the file is at its size limit; every line before it is whole: fix that and run the same command again to resume`);
  const text = readFileSync(join(dir, RECORDS_FILE), "utf8");
  expect(text.endsWith("\n")).toBe(true); // the refused line's start was cut off at once
  expect(report.n).toBeGreaterThan(3);
  const again = RecordStore.open(dir, fingerprint);
  expect(again.all().map((r) => r.seed)).toEqual(Array.from({ length: report.n }, (_, i) => i));
  again.close();
});
