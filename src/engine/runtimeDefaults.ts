// The llama.cpp runtime defaults the engine applies when a caller sets none (threads, flash
// attention), each chosen by measurement; apart from engine.ts so the figures behind them sit with them.
import { cpus } from "node:os";

/** llama.cpp backend: false = CPU, or a GPU backend node-llama-cpp ships a prebuilt binary for. */
export type GpuOption = false | "auto" | "cuda" | "metal" | "vulkan";

/**
 * Default thread count, by measurement. Small models: 1, since the per-token work is too small to
 * split and extra threads only add synchronisation. stories260K on 2 cores (npm run bench, section
 * 5): with the cores free, 2 threads take ~1.9x the time per token of 1; with other processes on
 * the cores, a decode waits for every thread and 2 threads were ~150x slower. Larger models: every
 * core on small machines, one left free on larger ones. The 1.1B shape on 2 free cores
 * (docs/performance.md): 2 threads ~45 ms/token, 1 thread ~80 (1.8x slower), so leaving one of
 * two cores free halves the speed; with the cores busy, 2 threads stall (use --threads 1 there).
 */
export function defaultThreads(nEmbd: number): number {
  if (nEmbd <= 1024) return 1;
  const cores = cpus().length;
  return Math.max(1, Math.min(cores <= 4 ? cores : cores - 1, 16));
}

/**
 * Flash attention off for small models on CPU, by measurement: stories260K (head size 8) ran plain
 * sampling ~1.4x and a K=4 guarded search ~1.8x faster without it. Larger models keep llama.cpp's auto.
 * Decided from the file size, before loading, so node-llama-cpp's own contexts (the reference
 * path) use the same attention kernel as ours.
 */
export function defaultFlashAttention(gpu: GpuOption, modelBytes: number): "auto" | "off" {
  return gpu === false && modelBytes < SMALL_MODEL_BYTES ? "off" : "auto";
}

const SMALL_MODEL_BYTES = 100 * 1024 * 1024;
