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
 *
 * Not on quantised weights: on SmolLM2 (Q4_1) a sequence whose cells sit at another offset of the
 * shared cache sums its attention in another SIMD order, and the Q8 rounding of each matmul's input
 * grows that one-ulp difference over 30 layers (relative L2 up to ~0.04 against the sequence run
 * alone, next-token TV distance up to ~0.2; test/smollm2/rows.test.ts). There a request's answer
 * can depend on its neighbours; the budget does not (each answer is charged on its own text).
 */
export function batchInvariantKvCacheType(modelPath: string): "f16" | "f32" {
  try {
    return statSync(modelPath).size < F32_KV_MAX_MODEL_BYTES ? "f32" : "f16";
  } catch {
    return "f16"; // Engine.load reports the missing file
  }
}

const F32_KV_MAX_MODEL_BYTES = 2 * 1024 ** 3;
