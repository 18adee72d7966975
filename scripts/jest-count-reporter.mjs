// A jest reporter that only records the counts scripts/test.mjs prints as its last line
// (`N passed, N failed`), in the file named by INFERENCE_GUARD_JEST_COUNTS. Instead of jest's
// --json --outputFile, which announces "Test results written to: ..." for a file deleted at once.
import { writeFileSync } from "node:fs";

export default class CountReporter {
  onRunComplete(_contexts, results) {
    const file = process.env.INFERENCE_GUARD_JEST_COUNTS;
    if (!file) return;
    writeFileSync(
      file,
      JSON.stringify({
        passed: results.numPassedTests,
        failed: results.numFailedTests,
        // A suite that fails to load has no failed tests of its own.
        brokenSuites: results.numRuntimeErrorTestSuites,
      }),
    );
  }
}
