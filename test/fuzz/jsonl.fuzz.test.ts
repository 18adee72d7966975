// Fuzzing the JSONL input of `batch` and `queue push` (issue 20), which share one parser
// (src/batch/input.ts), and the request settings server and batch share (src/request). Properties:
//   - parsing never throws: every non-blank line becomes exactly one job or one problem, on its
//     own line number, and a problem is one line (no input can split or forge a log line);
//   - every job can be queued: its job id is a valid BullMQ id that maps back to the row's id, and
//     the row survives the trip through Redis (JSON) as the very job the worker answers;
//   - resolveRequestSettings never throws, and what it accepts the library's schema accepts.
// Plus one real `queue push` of a fuzzed file (a real redis-server): exit 0 or 1, one line per
// skipped line, exactly the valid rows queued.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { idKey, parseBatchInput } from "../../src/batch/input.js";
import { ROW_FORMAT, idOfKey, jobIdOf, keyOfJobId, parseRowData } from "../../src/queue/rows.js";
import { describeZodError } from "../../src/errors.js";
import { guardFieldSchema, resolveRequestSettings } from "../../src/request/guardSettings.js";
import { guardOptionsSchema } from "../../src/search/options.js";
import { cli } from "../helpers/cli.js";
import { startRedis } from "../helpers/redis.js";
import { FUZZ_SEED, batchLine, fuzzParams, guardField, weirdNumber } from "./arbitraries.js";

const CONTEXT = { defaults: {}, method: "guard" as const, costNames: ["default", "assistant"] };

const fileText = fc
  .tuple(fc.array(batchLine, { minLength: 1, maxLength: 12 }), fc.constantFrom("\n", "\r\n"), fc.boolean(), fc.boolean())
  .map(([lines, eol, bom, finalEol]) => (bom ? "\ufeff" : "") + lines.join(eol) + (finalEol ? eol : ""));

test("batch / queue push input: never throws, one job or one one-line problem per non-blank line, every job queueable", () => {
  let jobs = 0;
  let problems = 0;
  fc.assert(
    fc.property(fileText, (text) => {
      const parsed = parseBatchInput(text, CONTEXT);
      const lines = text.replace(/^\ufeff/, "").split("\n");
      const nonBlank = lines.map((l, i) => [l.endsWith("\r") ? l.slice(0, -1) : l, i + 1] as const).filter(([l]) => l.trim() !== "").map(([, n]) => n);
      const seen = [...parsed.jobs.map((j) => j.line), ...parsed.problems.map((p) => p.line)].sort((a, b) => a - b);
      expect(seen).toEqual(nonBlank);
      for (const problem of parsed.problems) {
        expect(problem.message).not.toBe("");
        expect(problem.message).not.toMatch(/[\u0000-\u001f\u2028\u2029]/); // one printable line
      }
      const keys = new Set<string>();
      for (const job of parsed.jobs) {
        expect(keys.has(job.key)).toBe(false); // duplicates are problems, not second jobs
        keys.add(job.key);
        expect(job.key).toBe(idKey(job.id));
        const jobId = jobIdOf(job.key);
        expect(jobId).not.toMatch(/:/); // BullMQ refuses ':' in ids
        expect(jobId).not.toMatch(/^\d+$/); // ... and ids that look like integers
        expect(keyOfJobId(jobId)).toBe(job.key);
        expect(idOfKey(job.key)).toEqual(job.id === 0 ? 0 : job.id); // -0 is the id 0
        // What a worker reads back from Redis (BullMQ stores the data as JSON) is this very job.
        const row = parseRowData(JSON.parse(JSON.stringify({ format: ROW_FORMAT, job, seed: 1, chat: false })));
        if ("error" in row) throw new Error(`a pushed row the worker would refuse: ${row.error} (line ${job.line}: ${JSON.stringify(lines[job.line - 1])})`);
        expect(row.job.input).toEqual(job.input);
        const { method: _method, ...search } = job.settings.options;
        expect(guardOptionsSchema.safeParse(search).success).toBe(true);
      }
      jobs += parsed.jobs.length;
      problems += parsed.problems.length;
    }),
    fuzzParams(3000),
  );
  // Both sides were reached.
  expect(jobs).toBeGreaterThan(1000);
  expect(problems).toBeGreaterThan(1000);
});

test("request settings: a guard field that passes its shape check resolves without throwing, to options the library accepts", () => {
  const sampling = fc.record({ maxTokens: fc.oneof(fc.integer({ min: 1, max: 100 }), weirdNumber), temperature: fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), weirdNumber), topP: fc.oneof(fc.double({ min: 0.01, max: 1, noNaN: true }), weirdNumber), seed: fc.oneof(fc.nat(), weirdNumber) }, { requiredKeys: [] });
  let accepted = 0;
  fc.assert(
    fc.property(guardField, sampling, (field, sampled) => {
      const shaped = guardFieldSchema.safeParse(field);
      if (!shaped.success) {
        expect(describeZodError(shaped.error)).not.toBe("");
        return;
      }
      const result = resolveRequestSettings(shaped.data, sampled, { maxTokens: 16 });
      if ("error" in result) {
        expect(result.error).toMatch(/^(guard\.\w+|max_tokens|temperature|top_p|seed)\b/); // names the field
        return;
      }
      accepted++;
      const { method: _method, ...search } = result.options;
      expect(guardOptionsSchema.safeParse(search).success).toBe(true);
    }),
    fuzzParams(3000),
  );
  expect(accepted).toBeGreaterThan(100);
});

test("a real `queue push` of a fuzzed file: exit 0 or 1, one line per skipped line, exactly the valid rows queued", async () => {
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), "inference-guard-fuzz-push-"));
  try {
    const lines = fc.sample(batchLine, { seed: FUZZ_SEED, numRuns: 300 });
    const text = lines.join("\n") + "\n";
    const path = join(dir, "fuzzed.jsonl");
    writeFileSync(path, text);
    const expected = parseBatchInput(text, CONTEXT);
    expect(expected.jobs.length).toBeGreaterThan(20);
    const pushed = await cli("queue", "push", "--redis", redis.url, "--queue", "fuzz", "--in", path);
    expect([0, 1]).toContain(pushed.code);
    const reported = pushed.err.split("\n").filter((l) => l !== "");
    for (const line of reported) expect(line).toMatch(/^inference-guard: /);
    expect(reported.filter((l) => / line \d+: /.test(l))).toHaveLength(expected.problems.length);
    expect(pushed.err).toMatch(new RegExp(`${expected.jobs.length} rows added, 0 already queued, ${expected.problems.length} lines skipped`));
    const status = await cli("queue", "status", "--redis", redis.url, "--queue", "fuzz", "--json");
    expect(JSON.parse(status.out)).toMatchObject({ rows: expected.jobs.length, counts: { waiting: expected.jobs.length } });
    // Pushing again adds nothing.
    expect((await cli("queue", "push", "--redis", redis.url, "--queue", "fuzz", "--in", path)).err).toMatch(new RegExp(`0 rows added, ${expected.jobs.length} already queued`));
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
