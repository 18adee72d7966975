// A models folder where the known model looks fetched: a sparse file of the pinned size whose
// verification memo is in place, so nothing of 100 MB is hashed or loaded (the engine stops at it
// with "not a GGUF model file").
import { closeSync, ftruncateSync, mkdirSync, openSync, statSync, writeFileSync } from "node:fs";
import { cachedModelPath, type KnownModel } from "../../src/models/index.js";

/** Creates `dir` with the fake model in it; returns the fake file's path. */
export function fakeFetchedModel(model: KnownModel, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = cachedModelPath(model, dir);
  const fd = openSync(path, "w");
  ftruncateSync(fd, model.size);
  closeSync(fd);
  const s = statSync(path);
  writeFileSync(`${path}.verified.json`, JSON.stringify({ sha256: model.sha256, size: s.size, mtimeMs: s.mtimeMs }));
  return path;
}
