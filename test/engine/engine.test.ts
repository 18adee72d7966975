// Loading a model file: a missing, foreign or cut-short file is one clear UserError naming the cause.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../src/engine/engine.js";
import { ModelFileNotFoundError, UserError } from "../../src/errors.js";
import { STORIES_MODEL } from "../helpers/models.js";

const dir = mkdtempSync(join(tmpdir(), "inference-guard-engine-"));
const whole = readFileSync(STORIES_MODEL);

async function loadError(path: string): Promise<Error> {
  try {
    const engine = await Engine.load({ modelPath: path });
    await engine.dispose();
  } catch (error) {
    return error as Error;
  }
  throw new Error(`${path} loaded`);
}

test("a missing file: ModelFileNotFoundError, with no CLI flag in a library message", async () => {
  const error = await loadError(join(dir, "none.gguf"));
  expect(error).toBeInstanceOf(ModelFileNotFoundError);
  expect(error.message).toBe(`model file not found: ${join(dir, "none.gguf")}`);
});

test.each([
  ["1 KB", 1024],
  ["half", Math.floor(whole.length / 2)],
  ["all but the last byte", whole.length - 1],
])("a GGUF cut short (%s) says it is incomplete, before llama.cpp sees it", async (_name, bytes) => {
  const path = join(dir, `cut-${bytes}.gguf`);
  writeFileSync(path, whole.subarray(0, bytes));
  const error = await loadError(path);
  expect(error).toBeInstanceOf(UserError);
  const match = new RegExp(`the model file is incomplete \\(truncated\\): .*cut-${bytes}\\.gguf has ${bytes} bytes but its tensors need (\\d+)`).exec(error.message);
  expect(match).not.toBeNull();
  // Past the header, the tensors' extent is the whole file's length.
  if (bytes > 100_000) expect(Number(match![1])).toBe(whole.length);
});
