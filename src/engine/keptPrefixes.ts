// PrefixForward's sequences: the engine's sequence ids (a SequencePool), and the sequences kept in
// the KV cache between calls, whose tokens a later text may start with (it forks one instead of
// decoding that prefix again). Kept sequences are sorted by tokens, so the one sharing the most
// leading tokens with a text is a binary search away. A pinned prefix (the guard model's template
// head) stays for the engine's lifetime. Which sequences to keep is PrefixForward's policy; this
// module only holds them and frees what it is told to.
import type { Engine } from "./engine.js";
import { SequencePool } from "./sequencePool.js";

/** A sequence kept in the KV cache whose tokens later texts may start with. */
export interface KeptPrefix {
  seq: number;
  /** Number of the call that kept it (see PrefixForward.shareAmong). */
  call: number;
  tokens: readonly number[];
  /** Cells only this sequence holds (decoded on its own branch). */
  cells: number;
  /** Mean pooling: sum of the hidden states of the first c tokens, for the last few c. */
  sums?: Map<number, Float64Array>;
}

export class KeptPrefixes {
  private readonly pool: SequencePool;
  private sorted: KeptPrefix[] = [];
  private pinnedPrefix: KeptPrefix | null = null;

  constructor(private readonly engine: Engine) {
    this.pool = new SequencePool(engine, engine.info.maxSequences, "PrefixForward: out of sequences (internal: chunk sizing)");
  }

  /** The kept sequences, sorted by tokens (the pinned one apart). */
  get kept(): readonly KeptPrefix[] {
    return this.sorted;
  }

  get pinned(): KeptPrefix | null {
    return this.pinnedPrefix;
  }

  /** Sequences free for texts: all but the pinned one. */
  get available(): number {
    return this.engine.info.maxSequences - (this.pinnedPrefix ? 1 : 0);
  }

  acquire(): number {
    return this.pool.acquire();
  }

  release(seq: number): void {
    this.pool.release(seq);
  }

  /** Decodes `tokens` into the pinned sequence (replacing any pinned before); kept ones are freed. */
  pin(tokens: readonly number[]): void {
    this.dropKept();
    if (this.pinnedPrefix) this.release(this.pinnedPrefix.seq);
    const seq = this.acquire();
    this.engine.prefill(seq, tokens);
    this.pinnedPrefix = { seq, call: 0, tokens: [...tokens], cells: tokens.length };
  }

  /** Keeps the kept sequences `keep` accepts and frees the others. */
  retain(keep: (k: KeptPrefix) => boolean): void {
    this.sorted = this.sorted.filter((k) => keep(k) || (this.release(k.seq), false));
  }

  /** Makes `kept` the kept sequences (the old list's others must already be freed or among them). */
  replace(kept: KeptPrefix[]): void {
    this.sorted = kept.sort((a, b) => compareTokens(a.tokens, b.tokens));
  }

  /** Frees every kept sequence except the pinned one. */
  dropKept(): void {
    for (const k of this.sorted) this.release(k.seq);
    this.sorted = [];
  }

  /** Empties the KV cache: every sequence free, the pinned prefix decoded again. */
  clear(): void {
    const pinned = this.pinnedPrefix;
    this.sorted = [];
    this.pinnedPrefix = null;
    this.engine.clear();
    this.pool.reset();
    if (pinned) this.pin(pinned.tokens);
  }

  /** Frees the sequences of `kept` holding the most cells of their own until the rest hold at most `keepCells`. */
  limitCells(kept: KeptPrefix[], keepCells: number): void {
    let cells = kept.reduce((n, k) => n + k.cells, 0);
    if (cells <= keepCells) return;
    const byCells = [...kept].sort((a, b) => b.cells - a.cells);
    const drop = new Set<KeptPrefix>();
    for (const k of byCells) {
      if (cells <= keepCells) break;
      drop.add(k);
      cells -= k.cells;
      this.release(k.seq);
    }
    const rest = kept.filter((k) => !drop.has(k));
    kept.length = 0;
    kept.push(...rest);
  }

  /** The kept (or pinned) prefix sharing the most leading tokens with `tokens`, and how many. */
  longest(tokens: readonly number[]): { base: KeptPrefix | null; shared: number } {
    let base: KeptPrefix | null = null;
    let shared = 0;
    const consider = (k: KeptPrefix | undefined): void => {
      if (!k) return;
      const n = commonPrefix(k.tokens, tokens);
      if (n > shared) {
        shared = n;
        base = k;
      }
    };
    consider(this.pinnedPrefix ?? undefined);
    // In a sorted list the longest common prefix with x is found next to x's insertion point.
    const kept = this.sorted;
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareTokens(kept[mid].tokens, tokens) < 0) lo = mid + 1;
      else hi = mid;
    }
    consider(kept[lo - 1]);
    consider(kept[lo]);
    return { base, shared };
  }
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Lexicographic order of token sequences (a prefix first). */
export function compareTokens(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
