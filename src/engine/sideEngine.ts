// A side model: a GGUF that a cost or reward model runs beside the policy in a context of its own
// (the latent probe's base model, the guard model, a reward head's backbone). Loaded the same way
// for all of them: the caller's threads, GPU and sizes, else the kind's defaults, and the KV cache
// precision that keeps a text's result independent of the texts batched beside it.
import { Engine, type EngineOptions } from "./engine.js";
import { batchInvariantKvCacheType } from "./kvCacheType.js";

/** What a user may set on a side model's context (a probe's, a guard model's, a reward head's load options). */
export type SideEngineOptions = Pick<EngineOptions, "threads" | "gpu" | "maxSequences" | "kvCacheType"> & { contextSize?: number };

/** The kind's own sizes, and its thread count when the user gives none (undefined: the engine's default). */
export interface SideEngineDefaults {
  contextSize: number;
  maxSequences: number;
  threads?: number;
}

export function loadSideEngine(modelPath: string, options: SideEngineOptions, defaults: SideEngineDefaults): Promise<Engine> {
  return Engine.load({
    modelPath,
    threads: options.threads ?? defaults.threads,
    gpu: options.gpu,
    contextSize: options.contextSize ?? defaults.contextSize,
    maxSequences: options.maxSequences ?? defaults.maxSequences,
    kvCacheType: options.kvCacheType ?? batchInvariantKvCacheType(modelPath),
  });
}
