// KV cells a generation occupies, counted the way llama.cpp's unified KV cache holds them: every
// decoded token takes a new cell; a fork shares its source's cells (the cell gets one more
// sequence id, no copy); a cell is free once no sequence holds it. Installed by shadowing the
// engine's methods (like measure.ts's wrapMethod); the source stays untouched.
import type { Engine } from "../src/engine/engine.js";

type Method = "prefill" | "step" | "fork" | "truncate" | "release" | "clear";

export class KvCellCounter {
  /** Sequences holding each live cell. */
  private readonly refs = new Map<number, number>();
  /** Position -> cell of each sequence. */
  private readonly seqs = new Map<number, Map<number, number>>();
  private nextCell = 0;
  /** Most cells live at once since the last resetPeak(). */
  peak = 0;
  private readonly restores: Array<() => void> = [];

  constructor(private readonly engine: Engine) {
    this.hook("prefill", (seq: number, tokens: readonly number[], startPos = 0) => {
      for (let i = 0; i < tokens.length; i++) this.put(seq, startPos + i);
    });
    this.hook("step", (_tokens: Int32Array, positions: Int32Array, seqs: Int32Array) => {
      for (let i = 0; i < positions.length; i++) this.put(seqs[i], positions[i]);
    });
    this.hook("fork", (src: number, dst: number) => {
      const from = this.seqs.get(src);
      if (!from) return;
      for (const [pos, cell] of from) {
        this.drop(dst, pos);
        this.seq(dst).set(pos, cell);
        this.refs.set(cell, (this.refs.get(cell) ?? 0) + 1);
      }
    });
    this.hook("truncate", (seq: number, fromPos: number) => {
      for (const pos of [...(this.seqs.get(seq)?.keys() ?? [])]) if (pos >= fromPos) this.drop(seq, pos);
    });
    this.hook("release", (seq: number) => {
      for (const pos of [...(this.seqs.get(seq)?.keys() ?? [])]) this.drop(seq, pos);
      this.seqs.delete(seq);
    });
    this.hook("clear", () => {
      this.refs.clear();
      this.seqs.clear();
    });
  }

  /** Cells live now. */
  get live(): number {
    return this.refs.size;
  }

  resetPeak(): void {
    this.peak = this.refs.size;
  }

  restore(): void {
    for (const r of this.restores.splice(0).reverse()) r();
  }

  private seq(seq: number): Map<number, number> {
    let m = this.seqs.get(seq);
    if (!m) this.seqs.set(seq, (m = new Map()));
    return m;
  }

  private put(seq: number, pos: number): void {
    this.drop(seq, pos);
    const cell = this.nextCell++;
    this.seq(seq).set(pos, cell);
    this.refs.set(cell, 1);
    if (this.refs.size > this.peak) this.peak = this.refs.size;
  }

  private drop(seq: number, pos: number): void {
    const m = this.seqs.get(seq);
    const cell = m?.get(pos);
    if (cell === undefined) return;
    m!.delete(pos);
    const n = (this.refs.get(cell) ?? 1) - 1;
    if (n > 0) this.refs.set(cell, n);
    else this.refs.delete(cell);
  }

  /** Runs `before` with a call's arguments, then the engine's own method (sync or async alike). */
  private hook(key: Method, before: (...args: never[]) => void): void {
    const target = this.engine as unknown as Record<string, unknown>;
    const hadOwn = Object.prototype.hasOwnProperty.call(target, key);
    const original = target[key] as (...a: unknown[]) => unknown;
    target[key] = function (this: unknown, ...args: unknown[]) {
      (before as (...a: unknown[]) => void)(...args);
      return original.apply(this, args);
    };
    this.restores.push(() => {
      if (hadOwn) target[key] = original;
      else delete target[key];
    });
  }
}
