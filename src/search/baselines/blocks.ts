// The cumulative cost an answer is charged when it is written block by block: the sum of clipped
// step costs max(0, cost(prefix + block) - cost(prefix)) (src/cost/costModel.ts), which is what
// the safety state z = 1 - charged/d of the guard tracks. Used by the safety-aware baselines to
// decide, and by the evaluation to measure every method the same way.
import type { CostModel } from "../../cost/costModel.js";
import { DETOKENIZE_CONTEXT } from "../../engine/constants.js";
import type { Decoder } from "../../engine/decoder.js";

/**
 * Texts of the answer's blocks of `width` tokens, each detokenized with the answer tokens before it
 * as context, exactly as the guard writes its blocks.
 */
export function blockTexts(engine: Decoder, tokens: readonly number[], width: number): string[] {
  if (!Number.isInteger(width) || width < 1) throw new Error(`blockTexts: width must be a positive integer (got ${width})`);
  const blocks: string[] = [];
  for (let start = 0; start < tokens.length; start += width) {
    const context = tokens.slice(Math.max(0, start - DETOKENIZE_CONTEXT), start);
    blocks.push(engine.detokenize(tokens.slice(start, start + width), context));
  }
  return blocks;
}

/**
 * Running charged cost after each block, for several answers in one batched stepCosts call.
 * Returns one array per answer (its length = the answer's block count; [] for an empty answer).
 */
export async function chargedCostCurves(cost: CostModel, answers: ReadonlyArray<readonly string[]>): Promise<number[][]> {
  const items: { prefix: string; added: string }[] = [];
  for (const blocks of answers) {
    let prefix = "";
    for (const added of blocks) {
      items.push({ prefix, added });
      prefix += added;
    }
  }
  const steps = items.length === 0 ? [] : await cost.stepCosts(items);
  if (steps.length !== items.length) throw new Error(`cost model ${cost.name} returned ${steps.length} step costs for ${items.length} items`);
  let k = 0;
  return answers.map((blocks) => {
    const curve: number[] = [];
    let total = 0;
    for (let b = 0; b < blocks.length; b++) {
      const step = steps[k++];
      if (!(step >= 0)) throw new Error(`cost model ${cost.name} returned an invalid step cost: ${step}`);
      total += step;
      curve.push(total);
    }
    return curve;
  });
}

/** The highest cumulative cost along a curve (0 for an empty answer). */
export function maxOf(curve: readonly number[]): number {
  let max = 0;
  for (const c of curve) if (c > max) max = c;
  return max;
}
