// Helpers for bench/run.ts: summary statistics, call-time wrappers, micro-benchmark loops,
// text tables, a progress line, an atomic JSON write, what a section writes through, and how a
// bench file runs as a script. Nothing here knows about the engine.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { GpuOption } from "../src/engine/engine.js";
import { writeFileAtomic } from "../src/util/files.js";
import { Progress as ProgressBar } from "../src/util/progress.js";

export interface Summary {
  n: number;
  mean: number;
  min: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, mean: NaN, min: NaN, max: NaN };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { n: values.length, mean: sum / values.length, min, max };
}

/** Wall time of one (possibly async) call, in milliseconds. */
export async function timed<T>(fn: () => T | Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Time spent inside one wrapped method, accumulated over every call. */
export interface CallTimer {
  name: string;
  calls: number;
  ms: number;
  /** Sum of `weigh(args)` over the calls (e.g. tokens decoded); 0 without a weigh function. */
  units: number;
}

/**
 * Replaces the instance method obj[key] with a wrapper that accumulates its run time (until a
 * returned promise settles). The source stays untouched: the wrapper is an own property that
 * shadows the prototype method, and restore() removes it again.
 */
export function wrapMethod<T extends object>(
  obj: T,
  key: keyof T & string,
  name: string = key,
  weigh?: (args: unknown[]) => number,
): { timer: CallTimer; restore(): void } {
  const target = obj as Record<string, unknown>;
  const hadOwn = Object.prototype.hasOwnProperty.call(target, key);
  const original = target[key];
  if (typeof original !== "function") throw new Error(`wrapMethod: ${key} is not a method`);
  const timer: CallTimer = { name, calls: 0, ms: 0, units: 0 };
  target[key] = function (this: unknown, ...args: unknown[]) {
    if (weigh) timer.units += weigh(args);
    const t0 = performance.now();
    const result = (original as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise) {
      return result.finally(() => {
        timer.calls++;
        timer.ms += performance.now() - t0;
      });
    }
    timer.calls++;
    timer.ms += performance.now() - t0;
    return result;
  };
  return {
    timer,
    restore() {
      if (hadOwn) target[key] = original;
      else delete target[key];
    },
  };
}

export interface CallBench {
  /** Calls per timed sample (chosen so a sample lasts at least sampleMs). */
  inner: number;
  /** Microseconds per call, one value per sample. */
  usPerCall: number[];
}

/**
 * Micro-benchmark of a synchronous call: one warm-up call, then `samples` timed samples, each
 * repeating the call often enough to last >= sampleMs (fast calls are too short to time alone).
 */
export function benchCall(fn: () => void, samples: number, sampleMs: number): CallBench {
  const t0 = performance.now();
  fn();
  const once = Math.max(performance.now() - t0, 1e-4);
  const inner = Math.max(1, Math.ceil(sampleMs / once));
  const usPerCall: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    for (let i = 0; i < inner; i++) fn();
    usPerCall.push(((performance.now() - start) * 1000) / inner);
  }
  return { inner, usPerCall };
}

/** A plain-text table: first column left-aligned, the rest right-aligned. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ").trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Fixed-point number, or "-" when it is not finite. */
export function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "-";
}

/** Significant-ish formatting for values spanning several orders of magnitude (µs, ratios). */
export function fmtAuto(value: number): string {
  if (!Number.isFinite(value)) return "-";
  const a = Math.abs(value);
  return value.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
}

/**
 * The benchmarks' status line: a section at a time, each unit of work announced by its label; drawn
 * by the project's progress bar (src/util/progress.ts: rate and ETA, redrawn on a terminal, a line
 * per update elsewhere).
 */
export class Progress {
  private bar: ProgressBar | undefined;

  begin(section: string, total: number): void {
    this.bar?.finish();
    this.bar = new ProgressBar(total, { unit: "", label: section, intervalMs: 0 });
  }

  /** Announces the next unit of work of the current section. */
  tick(label: string): void {
    this.bar?.tick(1, label);
  }

  end(): void {
    this.bar?.finish();
    this.bar = undefined;
  }
}

/** Writes a JSON report crash-safely (src/util/files.ts: temp file, fsync, rename), its folder made first. */
export function writeJsonAtomic(file: string, data: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(data, null, 2)}\n`);
}

/** The benchmarks' --gpu values: llama.cpp backends by name (cpu is no GPU). */
const GPU_FLAGS: Record<string, GpuOption> = { cpu: false, auto: "auto", cuda: "cuda", metal: "metal", vulkan: "vulkan" };

/** A --gpu value's backend (absent: cpu); an unknown one throws, naming the choices. */
export function gpuFlag(raw: string | undefined): GpuOption {
  const gpu = GPU_FLAGS[raw ?? "cpu"];
  if (gpu === undefined) throw new Error(`--gpu must be one of ${Object.keys(GPU_FLAGS).join(", ")} (got ${raw})`);
  return gpu;
}

/** A positive integer flag's value (absent: `fallback`); anything else throws, naming the flag. */
export function positiveIntFlag(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer (got ${raw})`);
  return n;
}

/** What a section of bench/run.ts writes through: the printed transcript and the status line. */
export interface SectionOutput {
  print: (line?: string) => void;
  progress: Pick<Progress, "begin" | "tick">;
}

/** A model a section measures: its label in the tables, its GGUF, its threads (undefined: the engine's default). */
export interface SectionModel {
  label: string;
  path: string;
  threads?: number;
}

/** Runs a bench file's main() when node was started on that file (`meta` is its import.meta); a failure is one line and exit 1. */
export function runWhenMain(meta: ImportMeta, name: string, main: () => Promise<void>): void {
  if (meta.url !== `file://${process.argv[1]}`) return;
  main().catch((error: unknown) => {
    process.stderr.write(`${name}: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
