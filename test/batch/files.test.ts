// Batch input parsing, the append-only results file (repair of an unfinished last line) and the run
// lock, without a model.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { idKey, parseBatchInput } from "../../src/batch/input.js";
import { RunLock } from "../../src/batch/lock.js";
import { ResultsFile } from "../../src/batch/results.js";
import { seedFor } from "../../src/batch/runBatch.js";
import { UserError } from "../../src/errors.js";

const context = { defaults: {}, method: "guard" as const, costNames: ["default", "strict"] };
const dir = mkdtempSync(join(tmpdir(), "inference-guard-batch-files-"));

describe("input lines", () => {
  test("valid lines become jobs with merged, checked settings", () => {
    const text = [
      JSON.stringify({ id: "a", prompt: "Once upon a time" }),
      "",
      JSON.stringify({ id: 7, messages: [{ role: "user", content: "Hi" }], guard: { budget: 0.5, maxTokens: 12, cost: "strict", method: "greedy" } }),
      JSON.stringify({ id: "7", prompt: "a string id is not the number 7" }) + "\r",
    ].join("\n");
    const { jobs, problems } = parseBatchInput(text, { ...context, defaults: { beams: 2 } });
    expect(problems).toEqual([]);
    expect(jobs.map((j) => [j.line, j.id])).toEqual([[1, "a"], [3, 7], [4, "7"]]);
    expect(jobs[0]!.input).toBe("Once upon a time");
    expect(jobs[1]!.input).toEqual([{ role: "user", content: "Hi" }]);
    expect(jobs[1]!.settings).toEqual({ costName: "strict", options: expect.objectContaining({ budget: 0.5, maxTokens: 12, beams: 2, method: "greedy" }) });
    expect(jobs[0]!.settings.options.method).toBe("guard");
  });

  test("a UTF-8 byte-order mark before line 1 is accepted", () => {
    const text = "\uFEFF" + JSON.stringify({ id: "a", prompt: "Once" }) + "\r\n" + JSON.stringify({ id: "b", prompt: "Twice" }) + "\r\n";
    const { jobs, problems } = parseBatchInput(text, context);
    expect(problems).toEqual([]);
    expect(jobs.map((j) => j.id)).toEqual(["a", "b"]);
  });

  test("each bad line is reported with its number and the rest still parse", () => {
    const lines = [
      "{not json",
      JSON.stringify({ prompt: "no id" }),
      JSON.stringify({ id: "b", prompt: "x", messages: [{ role: "user", content: "y" }] }),
      JSON.stringify({ id: "c" }),
      JSON.stringify({ id: "d", prompt: "x", guard: { beams: 8, samples: 2 } }),
      JSON.stringify({ id: "e", prompt: "x", guard: { budget: 0 } }),
      JSON.stringify({ id: "f", prompt: "x", guard: { cost: "lax" } }),
      JSON.stringify({ id: "g", prompt: "x", guard: { beems: 3 } }),
      JSON.stringify({ id: "ok", prompt: "fine" }),
      JSON.stringify({ id: "ok", prompt: "again" }),
      JSON.stringify({ id: 1.5, prompt: "x" }),
      JSON.stringify({ id: "h", prompt: "x", extra: true }),
    ];
    const { jobs, problems } = parseBatchInput(lines.join("\n"), context);
    expect(jobs.map((j) => j.id)).toEqual(["ok"]);
    const byLine = Object.fromEntries(problems.map((p) => [p.line, p.message]));
    expect(Object.keys(byLine).map(Number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12]);
    expect(byLine[1]).toMatch(/not valid JSON/);
    expect(byLine[2]).toMatch(/id/);
    expect(byLine[3]).toMatch(/exactly one of prompt or messages/);
    expect(byLine[4]).toMatch(/exactly one of prompt or messages/);
    expect(byLine[5]).toMatch(/guard\.samples: samples \(N\) must be >= beams \(K\)/);
    expect(byLine[6]).toMatch(/guard\.budget: budget must be > 0/);
    expect(byLine[7]).toMatch(/unknown cost model "lax"/);
    expect(byLine[8]).toMatch(/beems/);
    expect(byLine[10]).toMatch(/duplicate id "ok" \(first on line 9\)/);
    expect(byLine[11]).toMatch(/id must be a non-empty string or an integer/);
    expect(byLine[12]).toMatch(/extra/);
  });

  test("a line's seed depends on the base seed and its id only", () => {
    expect(seedFor(1, idKey("a"))).toBe(seedFor(1, idKey("a")));
    expect(seedFor(1, idKey("a"))).not.toBe(seedFor(2, idKey("a")));
    expect(seedFor(1, idKey(7))).not.toBe(seedFor(1, idKey("7")));
    expect(seedFor(1, idKey("a"))).toBeLessThan(2 ** 31);
  });
});

describe("the results file", () => {
  const record = (id: string | number) => ({ id, text: `answer ${id}`, cost: 0, withinBudget: true, seconds: 0.1 });

  test("appends whole lines and reads back the ids done", () => {
    const path = join(dir, "clean.jsonl");
    const first = ResultsFile.open(path);
    expect(first.done.size).toBe(0);
    first.append(record("a"));
    first.append(record(2));
    first.close();
    const second = ResultsFile.open(path);
    expect([...second.done]).toEqual([idKey("a"), idKey(2)]);
    expect(second.repairedBytes).toBe(0);
    second.close();
    expect(readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).id)).toEqual(["a", 2]);
  });

  test("an unfinished last line (a killed run) is cut off; the whole lines stay", () => {
    const path = join(dir, "torn.jsonl");
    const whole = JSON.stringify(record("a")) + "\n" + JSON.stringify(record("b")) + "\n";
    writeFileSync(path, whole + JSON.stringify(record("c")).slice(0, 20));
    const results = ResultsFile.open(path);
    expect(results.repairedBytes).toBe(20);
    expect([...results.done]).toEqual([idKey("a"), idKey("b")]);
    results.append(record("c"));
    results.close();
    expect(readFileSync(path, "utf8")).toBe(whole + JSON.stringify(record("c")) + "\n");
  });

  test("a file that holds something else is refused, not appended to", () => {
    const path = join(dir, "foreign.jsonl");
    const content = JSON.stringify(record("a")) + "\nhello world\n" + JSON.stringify(record("b")) + "\n";
    writeFileSync(path, content);
    expect(() => ResultsFile.open(path)).toThrow(UserError);
    expect(() => ResultsFile.open(path)).toThrow(/foreign\.jsonl line 2 is not a batch result \(not valid JSON\)/);
    writeFileSync(path, JSON.stringify({ name: "x" }) + "\n");
    expect(() => ResultsFile.open(path)).toThrow(/line 1 is not a batch result \(id:/);
    expect(() => ResultsFile.open(join(dir, "no", "such", "dir.jsonl"))).toThrow(/folder does not exist/);
    expect(() => ResultsFile.open(dir)).toThrow(/is a folder/);
  });
});

describe("the run lock", () => {
  test("a live owner keeps others out; a dead owner's lock is taken over", () => {
    const results = join(dir, "locked.jsonl");
    const lock = RunLock.acquire(results);
    expect(existsSync(`${results}.lock`)).toBe(true);
    // Pid 1 is alive (or at least exists) on every system: another run "holds" the lock.
    writeFileSync(`${results}.lock`, "1\n");
    expect(() => RunLock.acquire(results)).toThrow(/another batch run \(pid 1\)/);
    // A pid far beyond pid_max cannot be running: the lock is stale.
    writeFileSync(`${results}.lock`, "99999999\n");
    const taken = RunLock.acquire(results);
    expect(readFileSync(`${results}.lock`, "utf8")).toBe(`${process.pid}\n`);
    taken.release();
    lock.release();
    expect(existsSync(`${results}.lock`)).toBe(false);
  });
});
