// Logit penalties for the resampling rounds: when every candidate of a beam went over budget, the
// tokens those candidates added are made less likely, in proportion to how many of them used each.
import type { LogitBias } from "../engine/engine.js";

export type TokenPenalty = Map<number, number>;

/** Adds -strength * (share of unsafe blocks containing the token) to `penalty`, per token. */
export function accumulatePenalty(penalty: TokenPenalty, unsafeBlocks: ReadonlyArray<readonly number[]>, strength: number): void {
  if (unsafeBlocks.length === 0 || strength === 0) return;
  const counts = new Map<number, number>();
  for (const block of unsafeBlocks) {
    for (const token of new Set(block)) counts.set(token, (counts.get(token) ?? 0) + 1);
  }
  for (const [token, count] of counts) {
    penalty.set(token, (penalty.get(token) ?? 0) - (strength * count) / unsafeBlocks.length);
  }
}

/** Packs one penalty map per sampled row into the engine's CSR bias; undefined when all are empty. */
export function packBias(rows: ReadonlyArray<TokenPenalty | undefined>): LogitBias | undefined {
  let total = 0;
  for (const p of rows) total += p?.size ?? 0;
  if (total === 0) return undefined;
  const rowPtr = new Int32Array(rows.length + 1);
  const tokens = new Int32Array(total);
  const values = new Float32Array(total);
  let k = 0;
  rows.forEach((p, r) => {
    if (p) {
      for (const [token, value] of p) {
        tokens[k] = token;
        values[k] = value;
        k++;
      }
    }
    rowPtr[r + 1] = k;
  });
  return { rowPtr, tokens, values };
}
