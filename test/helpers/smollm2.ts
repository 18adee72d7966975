// Where the tests find SmolLM2-135M-Instruct, the real chat model: the project's own resolver
// (src/models/: $INFERENCE_GUARD_MODELS_DIR, else the per-user cache; the file checked against the
// pinned sha256). CI fetches it before the suite. Missing, the tests that need it fail with one
// line saying how to fetch it: a suite that skipped silently would pass on a bare machine.
import { fetchedModelPath } from "../../src/models/resolve.js";

export const SMOLLM2_NAME = "smollm2-135m-instruct";

/** The fetched GGUF's path; throws a one-line error (no stack) when it is not there or not the pinned file. */
export function smollm2Path(): string {
  try {
    return fetchedModelPath(SMOLLM2_NAME, `the test model ${SMOLLM2_NAME}`);
  } catch (error) {
    const oneLine = new Error((error as Error).message);
    oneLine.stack = oneLine.message; // jest prints the stack: keep it to the one line
    throw oneLine;
  }
}
