// The one stratified split (the probe's and the classifier's training): each label's items shuffled
// by the caller's seeded generator, a `fraction` of them held out for validation. A label with two
// or more items keeps at least one on each side, so both sides see both labels; rows of one request
// that must stay together are split by group instead (src/reward/rewardData.ts, splitByGroup).

import { shuffle } from "./random.js";

/**
 * Indices 0..n-1 split per label (ascending labels; within a label in shuffled order):
 * round(fraction * count) of each label to validation, but at least 1 and at most count - 1 when
 * the label has two or more items (none when it has one).
 */
export function stratifiedSplit(n: number, labelOf: (i: number) => number, fraction: number, random: () => number): { train: number[]; validation: number[] } {
  const train: number[] = [];
  const validation: number[] = [];
  const labels = [...new Set(Array.from({ length: n }, (_, i) => labelOf(i)))].sort((a, b) => a - b);
  for (const label of labels) {
    const idx = Array.from({ length: n }, (_, i) => i).filter((i) => labelOf(i) === label);
    shuffle(idx, random);
    const held = idx.length >= 2 ? Math.min(idx.length - 1, Math.max(1, Math.round(idx.length * fraction))) : 0;
    validation.push(...idx.slice(0, held));
    train.push(...idx.slice(held));
  }
  return { train, validation };
}
