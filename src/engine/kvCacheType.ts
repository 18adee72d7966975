// KV cache precision where one sequence's results must not depend on what else shares the decode
// (a cost model's batched texts, the guard's parallel requests).
import { statSync } from "node:fs";

/**
 * With an f16 KV cache, the attention weights are rounded to f16 before they meet the values, and
 * which way a weight rounds depends on float noise from the cache's layout (where other sequences'
 * cells lie): one text's hidden state moves by ~1e-3 with what else is in the decode (stories260K,
 * measured), enough to change a sampled token now and then. With f32, batched, reused and
 * one-at-a-time results agree to ~1e-5 (a guarded answer run beside others equals its answer alone;
 * test/engine/slots.test.ts), and it was no slower on CPU here (stories260K faster: no f16
 * conversions). f32 doubles the KV memory, which only matters for large models: those keep f16.
 */
export function batchInvariantKvCacheType(modelPath: string): "f16" | "f32" {
  try {
    return statSync(modelPath).size < F32_KV_MAX_MODEL_BYTES ? "f32" : "f16";
  } catch {
    return "f16"; // Engine.load reports the missing file
  }
}

const F32_KV_MAX_MODEL_BYTES = 2 * 1024 ** 3;
