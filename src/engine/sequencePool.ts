// Hands out a decoder's sequence ids, lowest first (the search's beams, PrefixForward's branches).
// A released id is cleared in the KV cache before reuse.
import type { Decoder } from "./decoder.js";

export class SequencePool {
  private readonly free: number[] = [];

  constructor(
    private readonly engine: Pick<Decoder, "release">,
    private readonly size: number,
    /** The error when every id is taken: the caller's sizing went wrong. */
    private readonly exhausted = "sequence pool exhausted (beams + samples exceed the engine's sequences)",
  ) {
    this.reset();
  }

  acquire(): number {
    const seq = this.free.pop();
    if (seq === undefined) throw new Error(this.exhausted);
    return seq;
  }

  release(seq: number): void {
    this.engine.release(seq);
    this.free.push(seq);
  }

  /** Every id free again, without releasing any (the KV cache was cleared as a whole). */
  reset(): void {
    this.free.length = 0;
    // Pop from the end: lowest ids first.
    for (let s = this.size - 1; s >= 0; s--) this.free.push(s);
  }
}
