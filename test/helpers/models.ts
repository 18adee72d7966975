// Paths of the shared test models (read-only, beside the checkout).
import { join } from "node:path";
import { SHARED_DIR } from "../../src/paths.js";

export const STORIES_MODEL = join(SHARED_DIR, "models", "stories260K.gguf");
export const TINY_RANDOM_MODEL = join(SHARED_DIR, "models", "llama-2-tiny-random.gguf");
export const BOTH_MODELS = [
  ["stories260K", STORIES_MODEL],
  ["llama-2-tiny-random", TINY_RANDOM_MODEL],
] as const;

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
