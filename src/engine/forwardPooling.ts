// What PrefixForward reads from each decode: a text's output row, pooled from the hidden states
// (the last token's, the mean over all tokens, or both) or a few chosen logits at its last token.
// Mean pooling adds every decoded row to its trie node's running sum, and snapshots the sum near
// the leaves so a kept sequence can resume it (prefixTrie.ts).
import type { Engine } from "./engine.js";
import { MEAN_TAIL, type TrieNode } from "./prefixTrie.js";

/** What one text yields. Hidden: "last" = the last token's state; "mean" = the mean over all tokens; "both" = last then mean. */
export type ForwardOutput = { kind: "hidden"; pooling: "last" | "mean" | "both" } | { kind: "logits"; tokens: readonly number[] };

export class ForwardPooling {
  /** Floats per output row. */
  readonly width: number;
  /** Every position's hidden state is needed (mean pooling). */
  readonly wantMean: boolean;
  readonly wantLast: boolean;
  private readonly nEmbd: number;
  private readonly hiddenBuf: Float32Array<ArrayBuffer>;
  private readonly logitBuf: Float32Array<ArrayBuffer>;

  constructor(
    private readonly engine: Engine,
    private readonly output: ForwardOutput,
  ) {
    const { nEmbd, nVocab, batchSize } = engine.info;
    this.nEmbd = nEmbd;
    this.wantMean = output.kind === "hidden" && output.pooling !== "last";
    this.wantLast = output.kind === "logits" || output.pooling !== "mean";
    this.width = output.kind === "logits" ? output.tokens.length : output.pooling === "both" ? 2 * nEmbd : nEmbd;
    this.hiddenBuf = new Float32Array(batchSize * nEmbd);
    this.logitBuf = new Float32Array(output.kind === "logits" ? nVocab : 0);
  }

  /**
   * Reads the rows of the last decode (row r is part[r]): hidden states (all rows for mean
   * pooling) or label logits, into results[i] for every text i that ends at a node. With
   * `snapshots`, mean sums near a leaf are copied for the kept sequence.
   */
  read(part: readonly TrieNode[], sequences: ReadonlyArray<readonly number[]>, results: Float32Array[], snapshots: boolean): void {
    const out = this.output;
    const nEmbd = this.nEmbd;
    if (out.kind === "logits") {
      part.forEach((node, row) => {
        if (node.ends.length === 0) return;
        const logits = this.engine.logits(row, this.logitBuf);
        const picked = Float32Array.from(out.tokens, (t) => logits[t]);
        for (const i of node.ends) results[i] = picked;
      });
      return;
    }
    // Rows to read: every row for mean pooling, else only rows where texts end.
    const rows: number[] = [];
    part.forEach((node, row) => {
      if (this.wantMean || node.ends.length > 0) rows.push(row);
    });
    if (rows.length === 0) return;
    const hidden = this.engine.hidden(Int32Array.from(rows), this.hiddenBuf);
    rows.forEach((row, r) => {
      const node = part[row];
      const h = hidden.subarray(r * nEmbd, (r + 1) * nEmbd);
      if (this.wantMean) {
        const sum = node.sum!;
        for (let j = 0; j < nEmbd; j++) sum[j] += h[j];
        if (snapshots && node.minLeafPos - node.pos < MEAN_TAIL) node.snapshot = Float64Array.from(sum);
      }
      for (const i of node.ends) {
        const result = new Float32Array(this.width);
        let offset = 0;
        if (this.wantLast) {
          result.set(h, 0);
          offset = nEmbd;
        }
        if (this.wantMean) {
          const count = sequences[i].length;
          const sum = node.sum!;
          for (let j = 0; j < nEmbd; j++) result[offset + j] = sum[j] / count;
        }
        results[i] = result;
      }
    });
  }
}
