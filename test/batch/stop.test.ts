// Stop means stop (issue 20) for `batch`: SIGTERM mid-run exits 130 within a bound, says so in one
// line, and loses no written row; a disk that refuses the next line (here a file size limit,
// RLIMIT_FSIZE, which gives EFBIG as a full disk gives ENOSPC) ends the run with one line, not a
// stack trace, and leaves only whole lines, so the same command resumes.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { STORIES_MODEL } from "../helpers/models.js";

const dir = mkdtempSync(join(tmpdir(), "inference-guard-batch-stop-"));
const BIN = join(PACKAGE_ROOT, "bin", "inference-guard.js");

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function input(name: string, n: number): { path: string; ids: string[] } {
  const ids = Array.from({ length: n }, (_, i) => `${name}${i}`);
  const starts = ["Once upon a time", "The little dog", "Lily and Ben", "One sunny day"];
  const path = join(dir, `${name}.jsonl`);
  writeFileSync(path, ids.map((id, i) => JSON.stringify({ id, prompt: starts[i % starts.length] })).join("\n") + "\n");
  return { path, ids };
}

function run(command: string, args: string[]): { exited: Promise<{ code: number | null; at: number }>; stderr: () => string; kill: (s: NodeJS.Signals) => void } {
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  return {
    exited: new Promise((resolve) => child.on("exit", (code) => resolve({ code, at: Date.now() }))),
    stderr: () => stderr,
    kill: (s) => child.kill(s),
  };
}

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, "utf8").split("\n").slice(0, -1) : []);

test("SIGTERM mid-run: exits 130 within seconds, says so in one line, every written line whole; the same command resumes", async () => {
  const { path, ids } = input("term", 40);
  const out = join(dir, "term-results.jsonl");
  const args = [BIN, "batch", "--in", path, "--out", out, "--seed", "2", "--quiet", "--model", STORIES_MODEL, "--threads", "1",
    "--max-tokens", "200", "--beams", "2", "--samples", "8", "--width", "4"];
  const batch = run(process.execPath, args);
  const deadline = Date.now() + 60_000;
  while (lines(out).length < 2) {
    if (Date.now() > deadline) throw new Error("the batch wrote nothing");
    await new Promise((r) => setTimeout(r, 10));
  }
  const signalled = Date.now();
  batch.kill("SIGTERM");
  const exit = await batch.exited;
  expect(exit.at - signalled).toBeLessThan(10_000);
  expect(exit.code).toBe(130);
  expect(batch.stderr()).toMatch(/inference-guard: interrupted; run the same command again to resume\n$/);
  expect(batch.stderr()).not.toMatch(/\n\s+at /);
  const before = readFileSync(out, "utf8");
  expect(before.endsWith("\n")).toBe(true);
  const done = before.split("\n").slice(0, -1).map((l) => JSON.parse(l).id);
  expect(done.length).toBeLessThan(ids.length);

  const rerun = run(process.execPath, args);
  expect((await rerun.exited).code).toBe(0);
  const after = readFileSync(out, "utf8");
  expect(after.startsWith(before)).toBe(true);
  expect(after.split("\n").slice(0, -1).map((l) => JSON.parse(l).id).sort()).toEqual([...ids].sort());
}, 120_000);

test("the disk refuses a line: one line naming the file and why, and only whole lines stay", async () => {
  // A file size limit (ulimit -f) makes write(2) fail with EFBIG as a full disk fails with ENOSPC.
  // Batch's ResultsFile runs in a plain node process here: once llama.cpp's runtime is loaded, a
  // handler it installs turns SIGXFSZ back into a kill (a full disk sends no signal).
  const out = join(dir, "full-results.jsonl");
  writeFileSync(out, JSON.stringify({ id: "before", text: "kept", cost: 0 }) + "\n");
  const script = `
    const { ResultsFile } = await import(${JSON.stringify(join(PACKAGE_ROOT, "dist", "batch", "results.js"))});
    const file = ResultsFile.open(${JSON.stringify(out)});
    let n = 0;
    try {
      for (; n < 100; n++) file.append({ id: "r" + n, text: "x".repeat(300), cost: 0 });
      process.stdout.write("no error\\n");
    } catch (error) {
      process.stdout.write(JSON.stringify({ n, name: error.name, message: error.message }) + "\\n");
    }
    file.close();`;
  const limited = spawn("bash", ["-c", `ulimit -f 4 && exec "$0" --input-type=module -e "$1"`, process.execPath, script], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  limited.stdout!.on("data", (d) => (stdout += d));
  expect(await new Promise((resolve) => limited.on("exit", resolve))).toBe(0);
  const report = JSON.parse(stdout);
  expect(report.name).toBe("UserError"); // the CLI prints it as one line, exit 2
  expect(report.message).toBe(`cannot write ${out}: the file is at its size limit; every line before it is whole: fix that and run the same command again to resume`);
  const text = readFileSync(out, "utf8");
  expect(text.endsWith("\n")).toBe(true); // the refused line's start was cut off again
  const ids = text.split("\n").slice(0, -1).map((l) => JSON.parse(l).id);
  expect(ids).toEqual(["before", ...Array.from({ length: report.n }, (_, i) => `r${i}`)]);
  expect(report.n).toBeGreaterThan(3); // 4 KiB held several lines, then one was refused
});
