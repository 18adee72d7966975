// Loads our C++ addon (build/Release/inference_guard.node) and types its surface.
// Only src/engine and src/critic import this module.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface SampleParams {
  temperature: number;
  topK: number;
  topP: number;
}

export interface NativeBatchContextInfo {
  nVocab: number;
  nEmbd: number;
  nCtx: number;
  nSeqMax: number;
  nBatch: number;
  nCtxTrain: number;
  library: string;
}

export interface NativeBatchContext {
  info(): NativeBatchContextInfo;
  decode(tokens: Int32Array, positions: Int32Array, seqIds: Int32Array, wantOutput: Uint8Array): void;
  readHidden(rows: Int32Array, out: Float32Array): void;
  readLogits(row: number, out: Float32Array): void;
  sample(
    rows: Int32Array,
    params: SampleParams,
    seedHi: number,
    seedLo: number,
    biasRowPtr: Int32Array | null,
    biasTokens: Int32Array | null,
    biasValues: Float32Array | null,
    outTokens: Int32Array,
    outLogProbs: Float32Array,
  ): void;
  seqCopy(src: number, dst: number): void;
  seqRemove(seq: number, p0: number, p1: number): boolean;
  clear(): void;
  dispose(): void;
}

export interface NativeAddon {
  BatchContext: new (
    addonModel: object,
    options: {
      contextSize: number;
      batchSize: number;
      sequences: number;
      threads: number;
      flashAttention?: "auto" | "on" | "off";
      kvCacheType?: "f16" | "f32";
    },
  ) => NativeBatchContext;
  sampleLogits(
    logits: Float32Array,
    params: SampleParams,
    seedHi: number,
    seedLo: number,
    row: number,
    biasTokens?: Int32Array | null,
    biasValues?: Float32Array | null,
  ): { token: number; baseLogProb: number };
  // The critic kernels are declared in src/critic/native.ts.
  [name: string]: unknown;
}

let cached: NativeAddon | undefined;

/** The addon, built by `npm install` (node-gyp). Throws a clear error when it was not built. */
export function nativeAddon(): NativeAddon {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  // Works from src/ (tests, tsx) and from dist/ (the published build): walk up to package.json.
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  // node-gyp's build (the default), else the cmake-js build (`npm run build:native:cmake`).
  const candidates = [join(dir, "build", "Release", "inference_guard.node"), join(dir, "build-cmake", "Release", "inference_guard.node")];
  const file = candidates.find((f) => existsSync(f));
  if (file === undefined) {
    throw new Error(`native addon not built (${candidates[0]} is missing): run \`npm install\` or \`npm run build:native\``);
  }
  cached = createRequire(import.meta.url)(file) as NativeAddon;
  return cached;
}
