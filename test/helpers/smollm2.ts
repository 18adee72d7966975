// Where the tests find SmolLM2-135M-Instruct, the real chat model (`inference-guard models fetch
// smollm2-135m-instruct`; CI fetches it before the suite). Missing, the tests that need it fail
// with one line saying how to fetch it: a suite that skips silently would pass on a bare machine.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export const SMOLLM2_NAME = "smollm2-135m-instruct";
const SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf";

/** The fetched GGUF's path; throws a one-line error (no stack) when it is not there. */
export function smollm2Path(): string {
  const dir = process.env.INFERENCE_GUARD_MODELS_DIR
    ? resolve(process.env.INFERENCE_GUARD_MODELS_DIR)
    : join(homedir(), ".cache", "inference-guard", "models");
  const path = join(dir, SMOLLM2_FILE);
  if (!existsSync(path)) {
    const error = new Error(`SmolLM2-135M-Instruct is not fetched (no ${path}): run \`npx inference-guard models fetch ${SMOLLM2_NAME}\``);
    error.stack = error.message; // jest prints the stack: keep it to the one line
    throw error;
  }
  return path;
}
