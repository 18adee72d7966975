// Where the package lives, and the defaults resolved from it (so they work from any cwd).
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const PACKAGE_ROOT = findPackageRoot();

/** The shared models folder beside the project checkout (read-only inputs for tests and benchmarks). */
export const SHARED_DIR = resolve(PACKAGE_ROOT, "..", "shared");

export const MODEL_ENV = "INFERENCE_GUARD_MODEL";

/** Default model: $INFERENCE_GUARD_MODEL, else ../shared/models/stories260K.gguf. */
export function defaultModelPath(): string {
  return process.env[MODEL_ENV] || join(SHARED_DIR, "models", "stories260K.gguf");
}
