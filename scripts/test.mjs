// Runs the jest suite (ESM needs --experimental-vm-modules) and ends with one line
// `N passed, N failed` that CI reads. Extra arguments go to jest (e.g. a test path). The counts
// come from scripts/jest-count-reporter.mjs (see jest.config.js), through a temporary file.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "inference-guard-jest-"));
const countsFile = join(dir, "counts.json");
const jest = spawnSync(
  process.execPath,
  ["--experimental-vm-modules", "--no-warnings", "node_modules/jest/bin/jest.js", ...process.argv.slice(2)],
  { stdio: "inherit", env: { ...process.env, INFERENCE_GUARD_JEST_COUNTS: countsFile } },
);
let passed = 0;
let failed = 0;
try {
  const counts = JSON.parse(readFileSync(countsFile, "utf8"));
  passed = counts.passed;
  // A suite that fails to load has no failed tests of its own: count it as one failure.
  failed = counts.failed + counts.brokenSuites;
} catch {
  failed = 1;
}
rmSync(dir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(jest.status === 0 && failed === 0 ? 0 : 1);
