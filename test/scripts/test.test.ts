// `npm test`'s output is what a user needs: jest's report and the `N passed, N failed` line, with
// no notices about temporary files, no worker that fails to exit, no console output from tests.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { PACKAGE_ROOT } from "../../src/paths.js";

test("scripts/test.mjs ends with the counts and announces no temporary file", () => {
  const r = spawnSync(process.execPath, [join(PACKAGE_ROOT, "scripts", "test.mjs"), "test/search/stop.test.ts"], { cwd: PACKAGE_ROOT, encoding: "utf8" });
  const output = r.stdout + r.stderr;
  expect(r.status).toBe(0);
  const tests = readFileSync(join(PACKAGE_ROOT, "test", "search", "stop.test.ts"), "utf8").match(/^test\(/gm)!.length;
  expect(r.stdout.trim().split("\n").at(-1)).toBe(`${tests} passed, 0 failed`);
  expect(output).not.toMatch(/Test results written to/);
  expect(output).not.toMatch(/failed to exit gracefully/);
});

test("no test prints to the console (measurements are printed only on request)", () => {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (path.endsWith(".ts")) files.push(path);
    }
  };
  walk(join(PACKAGE_ROOT, "test"));
  const offenders = files.flatMap((file) =>
    readFileSync(file, "utf8")
      .split("\n")
      .map((line, i) => ({ line, at: `${relative(PACKAGE_ROOT, file)}:${i + 1}` }))
      .filter(({ line }) => /\bconsole\.(log|info|debug|warn|error)\(/.test(line) && !/INFERENCE_GUARD_TEST_REPORT/.test(line) && !/^\s*\/\//.test(line))
      .map(({ at }) => at),
  );
  expect(offenders).toEqual([]);
});
