// What a guarded generation needs from the engine before it starts: a prompt that fits the
// model's trained context, K + N sequences, N rows per batch, and KV cells for the prompt and one
// block of candidates. Each shortfall is a one-line UserError naming the setting to change.
import type { Decoder } from "../engine/decoder.js";
import { UserError } from "../errors.js";
import type { ResolvedGuardOptions } from "./options.js";

/** Upper bound on KV cells a guarded generation needs (shared prefixes counted once). */
export function requiredContextCells(promptTokens: number, o: { beams: number; samples: number; width: number; maxTokens: number }): number {
  return promptTokens + o.beams * o.maxTokens + o.samples * o.width + o.beams + 1;
}

/**
 * Checks the engine can run the search, and returns how many answer tokens it has room for: the
 * context, not the cap, may end the answer (stopReason "context"): positions past the model's
 * trained context would degrade it, and K beams of T tokens may need up to K*T KV cells.
 */
export function answerTokenRoom(info: Decoder["info"], promptLength: number, o: ResolvedGuardOptions): number {
  const { contextSize, trainContextSize, maxSequences, batchSize } = info;
  if (promptLength === 0) throw new UserError("the prompt is empty");
  if (promptLength >= trainContextSize) {
    throw new UserError(`the prompt has ${promptLength} tokens; the model's context is ${trainContextSize}`);
  }
  if (o.beams + o.samples > maxSequences) {
    throw new UserError(`beams + samples (${o.beams + o.samples}) exceed the engine's ${maxSequences} sequences (per answer: fewer with --parallel above 4)`);
  }
  if (o.samples > batchSize) {
    throw new UserError(`samples (${o.samples}) exceed the engine's batch size ${batchSize}`);
  }
  const firstBlock = requiredContextCells(promptLength, { ...o, maxTokens: 0 });
  const kvRoom = Math.floor((contextSize - firstBlock) / o.beams);
  if (kvRoom < 1) {
    throw new UserError(
      `the context has ${contextSize} KV cells: the prompt (${promptLength} tokens) and one block of ${o.samples}x${o.width} candidate tokens ` +
        `need ${firstBlock + o.beams}; raise the context size or lower samples/width`,
    );
  }
  return Math.min(o.maxTokens, trainContextSize - promptLength, kvRoom);
}
