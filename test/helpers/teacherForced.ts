// Re-scores an answer one token at a time through a fresh sequence: the reference for the
// log-probabilities the searches report.
import type { Engine } from "../../src/engine/engine.js";

/** Mean log-probability of `tokens` after `prompt`, re-scored one token at a time (clears the engine). */
export function teacherForcedReward(engine: Engine, prompt: number[], tokens: number[]): number {
  engine.clear();
  let row = engine.prefill(0, prompt);
  let sum = 0;
  tokens.forEach((token, i) => {
    const logits = engine.logits(row);
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
