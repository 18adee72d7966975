// Where fetched models live: $INFERENCE_GUARD_MODELS_DIR, else $XDG_CACHE_HOME/inference-guard/models,
// else ~/.cache/inference-guard/models. One file per model, named after its wheel member's base name.
import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { KnownModel } from "./registry.js";

export const MODELS_DIR_ENV = "INFERENCE_GUARD_MODELS_DIR";

export function modelsDir(): string {
  const fromEnv = process.env[MODELS_DIR_ENV];
  if (fromEnv) return resolve(fromEnv);
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg ? resolve(xdg) : join(homedir(), ".cache"), "inference-guard", "models");
}

/** Where a known model's GGUF is once fetched. */
export function cachedModelPath(model: KnownModel, dir = modelsDir()): string {
  return cachedModelFile(basename(model.member), dir);
}

/** Where a model file of this name sits in the cache folder (a probe's or reward head's recorded base model). */
export function cachedModelFile(file: string, dir = modelsDir()): string {
  return join(dir, file);
}

/** The memo beside a verified file (its size, mtime and hash), so a 100 MB re-hash is not needed each time. */
export function verifiedMemoPath(file: string): string {
  return `${file}.verified.json`;
}

/** A fetch's working folder in the cache folder (same filesystem, so the final rename is atomic). */
export const FETCH_DIR_PREFIX = ".fetch-";
