// Hands out the engine's sequence ids. A released id is cleared in the KV cache before reuse.
import type { Decoder } from "../engine/decoder.js";

export class SequencePool {
  private readonly free: number[];

  constructor(
    private readonly engine: Decoder,
    size: number,
  ) {
    // Pop from the end: lowest ids first.
    this.free = Array.from({ length: size }, (_, i) => size - 1 - i);
  }

  acquire(): number {
    const seq = this.free.pop();
    if (seq === undefined) throw new Error("sequence pool exhausted (beams + samples exceed the engine's sequences)");
    return seq;
  }

  release(seq: number): void {
    this.engine.release(seq);
    this.free.push(seq);
  }
}
