// Batched forward passes of many token sequences through a side model's own Engine (the latent
// probe, the guard model and the reward head each read one output per text: a hidden state or a few logits).
//
// Texts that share a token prefix share its KV cells: each call builds a token trie of its texts,
// decodes every trie node once, and forks a sequence where the trie branches. All branches advance
// in lockstep, one token per branch per llama_decode, so a call costs (depth of the trie) decodes
// whatever the number of texts.
//
// Between calls the sequences of the last call's texts are kept, and a text that starts with one
// of them forks it instead of decoding that prefix again: in a guarded search the next block's
// candidates are the surviving candidates plus W tokens, so a block costs about W decodes instead
// of the whole answer again. Mean pooling needs the sum of the hidden states over the reused
// prefix, so a kept sequence also keeps the running sums of its last MEAN_TAIL positions; a text
// that shares less than that with every kept sequence is decoded from the start. A `pinned`
// prefix (the guard model's template head) stays in the cache for the engine's lifetime.
import type { Engine } from "./engine.js";
import { UserError } from "../errors.js";

/** What one text yields. Hidden: "last" = the last token's state; "mean" = the mean over all tokens; "both" = last then mean. */
export type ForwardOutput = { kind: "hidden"; pooling: "last" | "mean" | "both" } | { kind: "logits"; tokens: readonly number[] };

export interface PrefixForwardOptions {
  output: ForwardOutput;
  /** Keep the last call's sequences to reuse their prefixes in the next call (default true). */
  reuse?: boolean;
  /**
   * Tokens dropped from the end of each kept sequence: the guard model's template tail, which
   * never starts a later text, so its KV cells are freed instead of kept (default 0).
   */
  keepTrim?: number;
  /** Most texts decoded together (default: SMALL_MODEL_TEXTS on small models, else as many as the sequences allow). */
  maxTexts?: number;
  /** About how many new KV cells one chunk of texts may add (default: SMALL_MODEL_FLIGHT_CELLS on small models, else unlimited). */
  flightCells?: number;
  /**
   * KV cells the kept sequences may hold beyond what they share (default: SMALL_MODEL_KEEP_CELLS
   * on small models, else unlimited): unrelated texts are not worth keeping on small models, a
   * search's candidates (W new tokens each) are.
   */
  keepCells?: number;
}

// Batch shape on small models (nEmbd <= 1024, the Engine's rule for small). The KV cache is
// unified, so every token of a decode attends (masked) to every used cell: on small models, where
// attention is most of the work, cost per token grows with the cells in use (stories260K, 16
// tokens per decode: ~0.2 ms/token with 256 cells, ~0.5 with 1,000, ~1.4 with 4,000). So a chunk
// adds at most ~256 new cells and 16 texts, and kept sequences hold at most 256 cells of their
// own. Measured (stories260K, 1 thread, µs per text / per search step item): chunks of 64 texts
// and no cell limits: 47,800 / 2,600; these limits: ~12,000-16,000 / ~900-1,100. Large models are
// bound by their weights instead, where wider batches win: no limits there.
const SMALL_MODEL_EMBD = 1024;
const SMALL_MODEL_TEXTS = 16;
const SMALL_MODEL_FLIGHT_CELLS = 256;
const SMALL_MODEL_KEEP_CELLS = 256;

interface TrieNode {
  token: number;
  /** KV position of the token. */
  pos: number;
  parent: TrieNode | null;
  children: Map<number, TrieNode>;
  /** Indices of the texts that end at this node. */
  ends: number[];
  seq: number;
  /** Position where this node's sequence got its first own cell (cells before it are shared). */
  branchStart: number;
  /** Mean pooling: sum of the hidden states from position 0 through this node (owned by one branch). */
  sum?: Float64Array;
  /** Mean pooling with reuse: the position of the shallowest leaf below (snapshots are taken within MEAN_TAIL of it). */
  minLeafPos: number;
  /** Mean pooling with reuse: a copy of `sum` after this node, for the kept sequence ending below. */
  snapshot?: Float64Array;
}

/** A sequence kept in the KV cache whose tokens later texts may start with. */
interface KeptPrefix {
  seq: number;
  /** Number of the call that kept it (see keepCalls). */
  call: number;
  tokens: readonly number[];
  /** Cells only this sequence holds (decoded on its own branch). */
  cells: number;
  /** Mean pooling: sum of the hidden states of the first c tokens, for the last few c. */
  sums?: Map<number, Float64Array>;
}

/** Mean pooling: running sums kept for the last positions of a kept sequence (how far back a text may diverge and still reuse it). */
const MEAN_TAIL = 8;

/** Where a group of texts starts: after `depth` tokens of `base` (or from nothing). */
interface TrieRoot {
  base: KeptPrefix | null;
  depth: number;
  children: Map<number, TrieNode>;
}

const CONTEXT_FULL = /context is full/;

export class PrefixForward {
  readonly width: number;
  private readonly nEmbd: number;
  private readonly wantMean: boolean;
  private readonly wantLast: boolean;
  private readonly reuse: boolean;
  private readonly maxTexts: number;
  private readonly keepCells: number;
  private readonly flightCells: number;
  private readonly free: number[] = [];
  /** Sequences kept from the last calls, sorted by tokens (binary search for the longest shared prefix). */
  private kept: KeptPrefix[] = [];
  /** Calls so far; a sequence kept by call c may be reused until call c + keepCalls. */
  private calls = 0;
  private keepCalls = 1;
  private pinned: KeptPrefix | null = null;
  private readonly hiddenBuf: Float32Array<ArrayBuffer>;
  private readonly logitBuf: Float32Array<ArrayBuffer>;

  constructor(
    private readonly engine: Engine,
    private readonly options: PrefixForwardOptions,
  ) {
    const { nEmbd, nVocab, batchSize } = engine.info;
    this.nEmbd = nEmbd;
    const out = options.output;
    this.wantMean = out.kind === "hidden" && out.pooling !== "last";
    this.wantLast = out.kind === "logits" || out.pooling !== "mean";
    this.width = out.kind === "logits" ? out.tokens.length : out.pooling === "both" ? 2 * nEmbd : nEmbd;
    this.reuse = options.reuse ?? true;
    const small = nEmbd <= SMALL_MODEL_EMBD;
    this.maxTexts = options.maxTexts ?? (small ? SMALL_MODEL_TEXTS : Infinity);
    this.keepCells = options.keepCells ?? (small ? SMALL_MODEL_KEEP_CELLS : Infinity);
    this.flightCells = options.flightCells ?? (small ? SMALL_MODEL_FLIGHT_CELLS : Infinity);
    this.hiddenBuf = new Float32Array(batchSize * nEmbd);
    this.logitBuf = new Float32Array(out.kind === "logits" ? nVocab : 0);
    this.resetSequences();
  }

  /** Sequences free for texts: all but the pinned one. */
  private get available(): number {
    return this.engine.info.maxSequences - (this.pinned ? 1 : 0);
  }

  /** Texts decoded together: at most maxTexts, and half the sequences when the rest may hold kept ones. */
  private get chunkCapacity(): number {
    return Math.max(1, Math.min(this.maxTexts, this.reuse ? Math.floor(this.available / 2) : this.available));
  }

  /**
   * Decodes `tokens` once into a sequence that stays for the engine's lifetime; later texts that
   * start with them fork it. Mean pooling cannot use it (it needs every position's hidden state).
   */
  pin(tokens: readonly number[]): void {
    if (this.wantMean) throw new Error("PrefixForward.pin: not available with mean pooling");
    if (tokens.length === 0) return;
    this.assertFits(tokens.length);
    this.dropKept();
    if (this.pinned) this.releaseSeq(this.pinned.seq);
    const seq = this.acquire();
    this.engine.prefill(seq, tokens);
    this.pinned = { seq, call: 0, tokens: [...tokens], cells: tokens.length };
  }

  /**
   * How many callers take turns (the guard's parallel generations each score their own blocks):
   * the texts of the last `callers` calls stay kept, so each caller's next call still finds its own
   * (with one, only the last call's: a search's next block extends nothing older).
   */
  shareAmong(callers: number): void {
    this.keepCalls = Math.max(1, Math.floor(callers));
  }

  /** One output row (`width` floats) per sequence of tokens, in order. Every sequence must be non-empty. */
  run(sequences: ReadonlyArray<readonly number[]>): Float32Array[] {
    const results = new Array<Float32Array>(sequences.length);
    if (sequences.length === 0) return results;
    const call = ++this.calls;
    /** Kept by one of the keepCalls - 1 calls before this one: another caller's next call may extend it. */
    const recent = (k: KeptPrefix): boolean => k.call > call - this.keepCalls && k.call < call;
    for (const tokens of sequences) {
      if (tokens.length === 0) throw new Error("PrefixForward.run: empty token sequence");
      this.assertFits(tokens.length);
    }
    // Lexicographic order puts texts that share prefixes into the same chunk.
    const order = Array.from(sequences.keys()).sort((a, b) => compareTokens(sequences[a], sequences[b]));
    const capacity = this.chunkCapacity;
    // Kept sequences this call will fork, and how many texts still need each: one no text needs
    // is freed at once (fewer cells for every decode to attend over), the others after their last use.
    const uses = new Map<KeptPrefix, number>();
    const bases = sequences.map((tokens) => this.startOf(tokens).base);
    if (this.reuse) {
      for (const base of bases) if (base && base !== this.pinned) uses.set(base, (uses.get(base) ?? 0) + 1);
      this.kept = this.kept.filter((k) => uses.has(k) || (this.keepCalls > 1 && recent(k)) || (this.releaseSeq(k.seq), false));
    }
    const newKept: KeptPrefix[] = [];
    for (const chunk of this.chunks(order, sequences, capacity)) {
      // Room for the chunk's branches: drop the oldest texts kept so far in this call if needed.
      while (newKept.length > 0 && this.kept.length + newKept.length + chunk.length > this.available) this.releaseSeq(newKept.shift()!.seq);
      this.runChunkWithRetry(sequences, chunk, results, this.reuse ? newKept : null);
      this.limitKeptCells(newKept);
      for (const i of chunk) {
        const base = bases[i];
        const left = base ? uses.get(base) : undefined;
        if (base && left !== undefined) {
          if (left > 1) uses.set(base, left - 1);
          else {
            uses.delete(base);
            // One caller: its texts extend the base, which is done with. Several: another caller's
            // text may have shared only a few tokens of it; the end of the call decides.
            if (this.keepCalls === 1) this.kept = this.kept.filter((k) => k !== base || (this.releaseSeq(k.seq), false));
          }
        }
      }
    }
    if (this.reuse) {
      // Other callers' recent texts stay (oldest first out), within the same room and cells.
      const others = this.kept.filter((k) => recent(k) || (this.releaseSeq(k.seq), false)).sort((a, b) => a.call - b.call);
      const all = [...others, ...newKept];
      // The next call needs room for a chunk beside them.
      while (all.length > this.available - capacity) this.releaseSeq(all.shift()!.seq);
      this.limitKeptCells(all);
      this.kept = all.sort((a, b) => compareTokens(a.tokens, b.tokens));
    }
    return results;
  }

  /**
   * Consecutive texts (in trie order) grouped into chunks of at most `capacity` texts and about
   * flightCells new KV cells (a text alone may exceed it).
   */
  private *chunks(order: number[], sequences: ReadonlyArray<readonly number[]>, capacity: number): Generator<number[]> {
    let chunk: number[] = [];
    let cells = 0;
    for (const i of order) {
      const fresh = sequences[i].length - this.startOf(sequences[i]).depth;
      if (chunk.length > 0 && (chunk.length >= capacity || cells + fresh > this.flightCells)) {
        yield chunk;
        chunk = [];
        cells = 0;
      }
      chunk.push(i);
      cells += fresh;
    }
    if (chunk.length > 0) yield chunk;
  }

  /** Frees the kept sequences holding the most cells of their own until the rest fit keepCells. */
  private limitKeptCells(kept: KeptPrefix[]): void {
    let cells = kept.reduce((n, k) => n + k.cells, 0);
    if (cells <= this.keepCells) return;
    const byCells = [...kept].sort((a, b) => b.cells - a.cells);
    const drop = new Set<KeptPrefix>();
    for (const k of byCells) {
      if (cells <= this.keepCells) break;
      drop.add(k);
      cells -= k.cells;
      this.releaseSeq(k.seq);
    }
    const rest = kept.filter((k) => !drop.has(k));
    kept.length = 0;
    kept.push(...rest);
  }

  /** Frees every kept sequence except the pinned one. */
  dropKept(): void {
    for (const k of this.kept) this.releaseSeq(k.seq);
    this.kept = [];
  }

  private assertFits(length: number): void {
    const cells = this.engine.info.contextSize;
    if (length > cells) {
      throw new UserError(`a text of ${length} tokens does not fit the cost model's context of ${cells} tokens`);
    }
  }

  /**
   * A chunk whose trie needs more KV cells than are free fails with "context is full": retry once
   * with an empty cache (kept sequences gone), then in halves; a single text that still fails
   * cannot be scored.
   */
  private runChunkWithRetry(
    sequences: ReadonlyArray<readonly number[]>,
    chunk: number[],
    results: Float32Array[],
    keep: KeptPrefix[] | null,
  ): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        this.runChunk(sequences, chunk, results, keep);
        return;
      } catch (error) {
        if (!CONTEXT_FULL.test(String((error as Error)?.message))) throw error;
        // The cache is cleared: everything kept so far is gone.
        if (keep) keep.length = 0;
        this.clearCache();
      }
    }
    if (chunk.length === 1) {
      throw new UserError(
        `a text of ${sequences[chunk[0]].length} tokens does not fit the cost model's KV cache (${this.engine.info.contextSize} cells)`,
      );
    }
    const half = Math.ceil(chunk.length / 2);
    this.runChunkWithRetry(sequences, chunk.slice(0, half), results, null);
    this.runChunkWithRetry(sequences, chunk.slice(half), results, keep);
  }

  /** Empties the KV cache, keeping (re-decoding) the pinned prefix. */
  private clearCache(): void {
    const pinned = this.pinned;
    this.kept = [];
    this.pinned = null;
    this.engine.clear();
    this.resetSequences();
    if (pinned) this.pin(pinned.tokens);
  }

  private resetSequences(): void {
    const n = this.engine.info.maxSequences;
    this.free.length = 0;
    for (let s = n - 1; s >= 0; s--) this.free.push(s);
  }

  private acquire(): number {
    const seq = this.free.pop();
    if (seq === undefined) throw new Error("PrefixForward: out of sequences (internal: chunk sizing)");
    return seq;
  }

  private releaseSeq(seq: number): void {
    this.engine.release(seq);
    this.free.push(seq);
  }

  /**
   * Where a text starts decoding: after `depth` tokens of a kept (or the pinned) sequence it shares
   * them with, or from nothing. The last token is always decoded (its output row is the result),
   * and mean pooling can only start where the kept sequence has the running sum.
   */
  private startOf(tokens: readonly number[]): { base: KeptPrefix | null; depth: number } {
    if (!this.reuse) return { base: null, depth: 0 };
    const best = this.longestKept(tokens);
    let depth = Math.min(best.shared, tokens.length - 1);
    const base = best.base;
    if (base && this.wantMean) {
      while (depth > 0 && !base.sums?.has(depth)) depth--;
    }
    return depth > 0 && base ? { base, depth } : { base: null, depth: 0 };
  }

  /** The kept prefix sharing the most leading tokens with `tokens`, and how many. */
  private longestKept(tokens: readonly number[]): { base: KeptPrefix | null; shared: number } {
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
    consider(this.pinned ?? undefined);
    // In a sorted list the longest common prefix with x is found next to x's insertion point.
    const kept = this.kept;
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

  private runChunk(sequences: ReadonlyArray<readonly number[]>, chunk: number[], results: Float32Array[], keep: KeptPrefix[] | null): void {
    // Build the trie: texts that start from the same kept prefix at the same depth share a root.
    const roots = new Map<string, TrieRoot>();
    const rootKeys = new Map<KeptPrefix, number>();
    for (const i of chunk) {
      const tokens = sequences[i];
      const { base, depth } = this.startOf(tokens);
      let baseId = -1;
      if (base) {
        baseId = rootKeys.get(base) ?? rootKeys.size;
        rootKeys.set(base, baseId);
      }
      const key = `${baseId}:${depth}`;
      let root = roots.get(key);
      if (!root) {
        root = { base, depth, children: new Map() };
        roots.set(key, root);
      }
      let children = root.children;
      let node: TrieNode | null = null;
      for (let p = depth; p < tokens.length; p++) {
        let child = children.get(tokens[p]);
        if (!child) {
          child = { token: tokens[p], pos: p, parent: node, children: new Map(), ends: [], seq: -1, branchStart: p, minLeafPos: Infinity };
          children.set(tokens[p], child);
        }
        node = child;
        children = node.children;
      }
      node!.ends.push(i);
    }
    const snapshots = this.wantMean && keep !== null;
    if (snapshots) for (const root of roots.values()) for (const child of root.children.values()) markLeafDistance(child);

    // Every root's children start a branch: a fresh sequence, or a fork of the kept prefix cut at the root's depth.
    let frontier: TrieNode[] = [];
    for (const root of roots.values()) {
      for (const child of root.children.values()) {
        child.seq = this.acquire();
        if (root.base) {
          this.engine.fork(root.base.seq, child.seq);
          this.engine.truncate(child.seq, root.depth);
        }
        if (this.wantMean) child.sum = root.base ? Float64Array.from(root.base.sums!.get(root.depth)!) : new Float64Array(this.nEmbd);
        frontier.push(child);
      }
    }

    const batch = this.engine.info.batchSize;
    while (frontier.length > 0) {
      const next: TrieNode[] = [];
      for (let start = 0; start < frontier.length; start += batch) {
        const part = frontier.slice(start, start + batch);
        this.engine.step(
          Int32Array.from(part, (n) => n.token),
          Int32Array.from(part, (n) => n.pos),
          Int32Array.from(part, (n) => n.seq),
        );
        this.readOutputs(part, sequences, results, snapshots);
        for (const node of part) this.advance(node, sequences, next, keep);
      }
      frontier = next;
    }
  }

  /** Reads the rows of the last decode: hidden states (all rows for mean pooling) or label logits. */
  private readOutputs(part: TrieNode[], sequences: ReadonlyArray<readonly number[]>, results: Float32Array[], snapshots: boolean): void {
    const out = this.options.output;
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

  /** Schedules a decoded node's children: the first continues its sequence, the others fork it. */
  private advance(node: TrieNode, sequences: ReadonlyArray<readonly number[]>, next: TrieNode[], keep: KeptPrefix[] | null): void {
    if (node.children.size === 0) {
      // A leaf always ends a text, whose tokens are the sequence's tokens.
      const tokens = sequences[node.ends[0]];
      const length = tokens.length - (this.options.keepTrim ?? 0);
      if (keep && length > 0) {
        if (length < tokens.length) this.engine.truncate(node.seq, length);
        keep.push({
          seq: node.seq,
          call: this.calls,
          tokens: tokens.slice(0, length),
          cells: Math.max(0, length - node.branchStart),
          ...(this.wantMean ? { sums: tailSums(node) } : {}),
        });
      } else {
        this.releaseSeq(node.seq);
      }
      return;
    }
    let first = true;
    for (const child of node.children.values()) {
      if (first) {
        child.seq = node.seq;
        child.branchStart = node.branchStart;
        child.sum = node.sum;
        first = false;
      } else {
        child.seq = this.acquire();
        this.engine.fork(node.seq, child.seq);
        if (node.sum) child.sum = Float64Array.from(node.sum);
      }
      next.push(child);
    }
    // The first child took the running sum over: later siblings already hold their copies.
    node.sum = undefined;
  }
}

/** Sets minLeafPos on a subtree: the position of its shallowest leaf. */
function markLeafDistance(node: TrieNode): number {
  let min = node.children.size === 0 ? node.pos : Infinity;
  for (const child of node.children.values()) min = Math.min(min, markLeafDistance(child));
  node.minLeafPos = min;
  return min;
}

/** The running sums snapshotted on a leaf's path, by token count (pos + 1). */
function tailSums(leaf: TrieNode): Map<number, Float64Array> {
  const sums = new Map<number, Float64Array>();
  for (let node: TrieNode | null = leaf; node !== null && sums.size < MEAN_TAIL; node = node.parent) {
    if (node.snapshot) sums.set(node.pos + 1, node.snapshot);
  }
  return sums;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function compareTokens(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
