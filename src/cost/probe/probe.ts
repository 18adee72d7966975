// The latent probe cost model (`probe:PATH`): P(unsafe | text) from a logistic regression on the
// base model's own hidden states, so an instruction model gets a cost model in its own latent space.
// Train one with `inference-guard train-probe`; the file format is in probeFormat.ts.
//
// The probe owns its Engine: a separate llama.cpp context on the GGUF it was trained for, never the
// search's engine (whose sequences are the beams). One thread by default (options.threads
// overrides it); decodes of the probe and the search never overlap, so they do not compete.
// A text is scored as a plain completion prompt (BOS + its tokens), exactly as in training.
//
// Which GGUF it loads, first match wins:
//   1. options.modelPath (library callers);
//   2. $INFERENCE_GUARD_PROBE_MODEL;
//   3. the file's model.path, relative to the probe file's folder (or absolute);
//   4. a file of the recorded name in the models cache ($INFERENCE_GUARD_MODELS_DIR, else
//      $XDG_CACHE_HOME or ~/.cache, /inference-guard/models), where `models fetch` puts a GGUF;
//   5. $INFERENCE_GUARD_MODEL, when none of those exists (the deployment moved its model).
// Whatever is found must have the recorded sha256 and nEmbd, or loading fails with a UserError.
import { existsSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { Engine } from "../../engine/engine.js";
import { UserError } from "../../errors.js";
import { cachedModelFile, resolveModel } from "../../models/index.js";
import { MODEL_ENV } from "../../paths.js";
import { PrefixForward } from "../../engine/prefixForward.js";
import { loadSideEngine, type SideEngineOptions } from "../../engine/sideEngine.js";
import { readProbeFile, type ProbeFile, type ProbePooling } from "./probeFormat.js";
import { fileSha256 } from "../../util/fileHash.js";
import { sigmoid } from "../../util/logistic.js";
import { CachedTextCostModel } from "./probeScoring.js";

export const PROBE_MODEL_ENV = "INFERENCE_GUARD_PROBE_MODEL";

/**
 * The probe's own context (defaults: 1 thread; 4096 KV cells, the longest text it scores plus the
 * texts kept for reuse; 129 sequences, half of them less one the most texts one decode carries).
 */
export interface ProbeLoadOptions extends SideEngineOptions {
  /** GGUF to use instead of the one the file names (its sha256 must still match). */
  modelPath?: string;
}

const DEFAULT_CONTEXT = 4096;
const DEFAULT_SEQUENCES = 129;

/** The linear probe with standardisation folded in: logit = w . h + b. */
export interface ProbeWeights {
  pooling: ProbePooling;
  w: Float64Array;
  b: number;
}

export function foldProbeWeights(probe: Pick<ProbeFile, "pooling" | "standardization" | "weights" | "bias">): ProbeWeights {
  const n = probe.weights.length;
  const w = new Float64Array(n);
  let b = probe.bias;
  for (let j = 0; j < n; j++) {
    w[j] = probe.weights[j] / probe.standardization.std[j];
    b -= w[j] * probe.standardization.mean[j];
  }
  return { pooling: probe.pooling, w, b };
}

export class ProbeCostModel extends CachedTextCostModel {
  readonly name: string;
  private readonly forward: PrefixForward;

  private constructor(
    name: string,
    readonly engine: Engine,
    private readonly weights: ProbeWeights,
    readonly file: ProbeFile | undefined,
    private readonly ownsEngine: boolean,
  ) {
    super();
    this.name = name;
    this.forward = new PrefixForward(engine, { output: { kind: "hidden", pooling: weights.pooling } });
  }

  /** Loads a probe file and its model (see the module comment for which GGUF). */
  static async load(path: string, options: ProbeLoadOptions = {}): Promise<ProbeCostModel> {
    const file = resolve(path);
    const probe = readProbeFile(file);
    const modelPath = await resolveProbeModel(probe, file, options.modelPath);
    const engine = await loadSideEngine(modelPath, options, { contextSize: DEFAULT_CONTEXT, maxSequences: DEFAULT_SEQUENCES, threads: 1 });
    if (engine.info.nEmbd !== probe.model.nEmbd) {
      await engine.dispose();
      throw new UserError(`probe ${file} expects hidden size ${probe.model.nEmbd} but ${modelPath} has ${engine.info.nEmbd}`);
    }
    return new ProbeCostModel(`probe:${file}`, engine, foldProbeWeights(probe), probe, true);
  }

  /**
   * A probe over an engine the caller owns (training evaluates its fresh weights this way). The
   * engine must be dedicated to it: the probe uses and clears its sequences.
   */
  static onEngine(engine: Engine, weights: ProbeWeights, name = "probe:<inline>"): ProbeCostModel {
    if (weights.w.length !== engine.info.nEmbd) throw new Error(`probe weights have ${weights.w.length} values, the engine's hidden size is ${engine.info.nEmbd}`);
    engine.clear();
    return new ProbeCostModel(name, engine, weights, undefined, false);
  }

  protected scoreTexts(texts: readonly string[]): Float64Array {
    const features = this.forward.run(texts.map((t) => this.engine.completionPrompt(t)));
    const { w, b } = this.weights;
    const out = new Float64Array(texts.length);
    features.forEach((h, i) => {
      let z = b;
      for (let j = 0; j < w.length; j++) z += w[j] * h[j];
      out[i] = sigmoid(z);
    });
    return out;
  }

  /** Its forward pass keeps each caller's last texts (see PrefixForward.shareAmong). */
  shareAmong(callers: number): void {
    this.forward.shareAmong(callers);
  }

  async dispose(): Promise<void> {
    if (this.ownsEngine) await this.engine.dispose();
  }
}

/** The registry entry point for `probe:PATH` (PATH relative to baseDir). */
export async function loadProbeCostModel(arg: string, baseDir: string): Promise<ProbeCostModel> {
  return ProbeCostModel.load(isAbsolute(arg) ? arg : resolve(baseDir, arg));
}

/** The GGUF a probe runs on, checked against its recorded sha256. */
export async function resolveProbeModel(probe: ProbeFile, probePath: string, override?: string): Promise<string> {
  const recorded = isAbsolute(probe.model.path) ? probe.model.path : resolve(dirname(probePath), probe.model.path);
  const fromEnv = process.env[PROBE_MODEL_ENV];
  let modelPath: string;
  let how: string;
  if (override) [modelPath, how] = [resolve(resolveModel(override)), "given"];
  else if (fromEnv) [modelPath, how] = [resolve(resolveModel(fromEnv)), `from $${PROBE_MODEL_ENV}`];
  else if (existsSync(recorded)) [modelPath, how] = [recorded, "recorded in the probe file"];
  else if (existsSync(cachedModelFile(probe.model.file))) [modelPath, how] = [cachedModelFile(probe.model.file), "in the models cache"];
  else if (process.env[MODEL_ENV]) [modelPath, how] = [resolve(resolveModel(process.env[MODEL_ENV]!)), `from $${MODEL_ENV}`];
  else {
    throw new UserError(
      `probe ${probePath} was trained for ${probe.model.file}, which is not at ${recorded}: set $${PROBE_MODEL_ENV} to that GGUF`,
    );
  }
  if (!existsSync(modelPath) || !statSync(modelPath).isFile()) throw new UserError(`probe model not found: ${modelPath} (${how})`);
  const sha = await fileSha256(modelPath);
  if (sha !== probe.model.sha256) {
    throw new UserError(
      `probe ${probePath} was trained for ${probe.model.file} (sha256 ${probe.model.sha256.slice(0, 12)}…), ` +
        `but ${modelPath} (${how}) is another model (sha256 ${sha.slice(0, 12)}…)`,
    );
  }
  return modelPath;
}

