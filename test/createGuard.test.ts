// createGuard as a library caller meets it: errors speak of its options, not of CLI flags.
import { join } from "node:path";
import { tmpdir } from "node:os";
import { createGuard } from "../src/createGuard.js";
import { GuardModelNotFoundError } from "../src/errors.js";
import { MODEL_ENV } from "../src/paths.js";

test("a missing model names the path, and never tells a library caller to pass --model", async () => {
  const path = join(tmpdir(), "inference-guard-no-such-model.gguf");
  const error = await createGuard({ model: path }).catch((e: unknown) => e as Error);
  expect(error).toBeInstanceOf(GuardModelNotFoundError);
  expect((error as Error).message).toBe(`model file not found: ${path}`);
});

test("a missing default model says no model was given and how to give one", async () => {
  const saved = process.env[MODEL_ENV];
  process.env[MODEL_ENV] = join(tmpdir(), "inference-guard-no-default.gguf");
  try {
    const error = (await createGuard().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(GuardModelNotFoundError);
    expect(error.message).toMatch(/^no model given, and the default model file was not found: .*no-default\.gguf \(pass createGuard\(\{ model: .* \}\) or set INFERENCE_GUARD_MODEL\)$/);
    expect(error.message).not.toMatch(/--model/);
  } finally {
    if (saved === undefined) delete process.env[MODEL_ENV];
    else process.env[MODEL_ENV] = saved;
  }
});
