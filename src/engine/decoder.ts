// What a search needs from a model: sequences in a KV cache, batched decodes, and the rows of the
// last decode (logits to sample from, hidden states). An Engine is one (a whole context); a Slot
// (slots.ts) is one too: a share of an engine whose decodes go in one batch with other slots'.
// Rows read after a decode are valid until that decoder's next decode.
import type { Engine } from "./engine.js";

type Reads = "hidden" | "logits" | "sample" | "fork" | "truncate" | "release" | "clear" | "detokenize" | "isEndOfGeneration" | "endOfGenerationTokens";

export type Decoder = Pick<Engine, Reads> & {
  /** contextSize and maxSequences are this decoder's share (a slot's, or the whole engine's). */
  readonly info: Engine["info"];
  /** As Engine.prefill; a slot's resolves once the shared decode has run. */
  prefill(...args: Parameters<Engine["prefill"]>): number | Promise<number>;
  /** As Engine.step; a slot's resolves once the shared decode has run. */
  step(...args: Parameters<Engine["step"]>): void | Promise<void>;
};
