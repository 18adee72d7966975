// Re-scores an answer one token at a time through a fresh sequence: the reference for the
// log-probabilities the searches report.
import type { Engine } from "../../src/engine/engine.js";

/**
 * How far a search's mean token log-probability may be from the teacher-forced one. The two run
 * different kernel paths (batched rows, forks, another KV order), and which ones depends on the
 * CPU: an absolute 5e-4 once failed on another machine. A log-softmax value moves by at most twice
 * the largest logit error, and the largest measured on another CPU was 0.0021 (SAME_ROW_TOLERANCE's
 * note), so a mean is off by at most ~0.0042 from float noise; 0.01 leaves 2.4x on top of that
 * worst case (measured here: at most 4e-5). A wrong row is far outside it: one stale row (the
 * previous position's distribution) in a 50-token answer moves the mean by 0.054-0.30 on the
 * stories model, every row stale by ~10 (`teacherForcedReward(..., staleAt)` shows it in the tests).
 */
export const MEAN_LOGPROB_TOLERANCE = 0.01;

export function expectSameMeanLogProb(actual: number, reference: number): void {
  expect(Math.abs(actual - reference)).toBeLessThanOrEqual(MEAN_LOGPROB_TOLERANCE);
}

/**
 * Mean log-probability of `tokens` after `prompt`, re-scored one token at a time (clears the
 * engine). `staleAt` scores that token with the previous position's logits instead: the wrong row a
 * bug would read, for tests that the tolerance above still catches one.
 */
export function teacherForcedReward(engine: Engine, prompt: number[], tokens: number[], staleAt?: number): number {
  engine.clear();
  let row = engine.prefill(0, prompt);
  let sum = 0;
  let previous: Float32Array | undefined;
  tokens.forEach((token, i) => {
    const current = Float32Array.from(engine.logits(row));
    const logits = i === staleAt && previous !== undefined ? previous : current;
    previous = current;
    let max = -Infinity;
    for (const l of logits) max = Math.max(max, l);
    let z = 0;
    for (const l of logits) z += Math.exp(l - max);
    sum += logits[token] - max - Math.log(z);
    engine.step(Int32Array.of(token), Int32Array.of(prompt.length + i), Int32Array.of(0));
    row = 0;
  });
  engine.clear();
  return sum / tokens.length;
}
