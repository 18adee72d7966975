// Where a reward head's backbone GGUF is found. A head records its backbone's file name and a path
// relative to the head file when the backbone sits beside it (the testbed: models/testbed/...);
// a backbone from elsewhere (a fetched model) is recorded by file name alone, and found in the
// model cache folder, where `inference-guard models fetch` writes it. The sha256 decides either way.
import { basename, isAbsolute, relative, resolve, sep } from "node:path";
import { cachedModelFile } from "../models/index.js";

/** The path a head file written to `outDir` records for its backbone: relative when under outDir, else the bare file name. */
export function recordedBackbonePath(outDir: string, modelPath: string): string {
  const rel = relative(outDir, modelPath);
  return rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? basename(modelPath) : rel.split(sep).join("/");
}

/** Where to look for a head's backbone, in order: the recorded path (relative to the head file), then the model cache. */
export function backboneCandidates(headDir: string, recorded: string, file: string): string[] {
  const first = isAbsolute(recorded) ? recorded : resolve(headDir, recorded);
  const cached = cachedModelFile(file);
  return first === cached ? [first] : [first, cached];
}
