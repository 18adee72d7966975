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
//
// This module is the schedule (chunks, lockstep decoding, forks, what stays kept, the retry when
// the cache is full); the trie is prefixTrie.ts, the kept sequences keptPrefixes.ts, and what a
// decode's rows yield forwardPooling.ts.
import type { Engine } from "./engine.js";
import { UserError } from "../errors.js";
import { ForwardPooling, type ForwardOutput } from "./forwardPooling.js";
import { KeptPrefixes, compareTokens, type KeptPrefix } from "./keptPrefixes.js";
import { buildTrie, tailSums, type TrieNode } from "./prefixTrie.js";

export type { ForwardOutput } from "./forwardPooling.js";

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

const CONTEXT_FULL = /context is full/;

export class PrefixForward {
  readonly width: number;
  private readonly pooling: ForwardPooling;
  private readonly sequences: KeptPrefixes;
  private readonly reuse: boolean;
  private readonly maxTexts: number;
  private readonly keepCells: number;
  private readonly flightCells: number;
  /** Calls so far; a sequence kept by call c may be reused until call c + keepCalls. */
  private calls = 0;
  private keepCalls = 1;

  constructor(
    private readonly engine: Engine,
    private readonly options: PrefixForwardOptions,
  ) {
    this.pooling = new ForwardPooling(engine, options.output);
    this.sequences = new KeptPrefixes(engine);
    this.width = this.pooling.width;
    this.reuse = options.reuse ?? true;
    const small = engine.info.nEmbd <= SMALL_MODEL_EMBD;
    this.maxTexts = options.maxTexts ?? (small ? SMALL_MODEL_TEXTS : Infinity);
    this.keepCells = options.keepCells ?? (small ? SMALL_MODEL_KEEP_CELLS : Infinity);
    this.flightCells = options.flightCells ?? (small ? SMALL_MODEL_FLIGHT_CELLS : Infinity);
  }

  /** Texts decoded together: at most maxTexts, and half the sequences when the rest may hold kept ones. */
  private get chunkCapacity(): number {
    const available = this.sequences.available;
    return Math.max(1, Math.min(this.maxTexts, this.reuse ? Math.floor(available / 2) : available));
  }

  /**
   * Decodes `tokens` once into a sequence that stays for the engine's lifetime; later texts that
   * start with them fork it. Mean pooling cannot use it (it needs every position's hidden state).
   */
  pin(tokens: readonly number[]): void {
    if (this.pooling.wantMean) throw new Error("PrefixForward.pin: not available with mean pooling");
    if (tokens.length === 0) return;
    this.assertFits(tokens.length);
    this.sequences.pin(tokens);
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
    const cache = this.sequences;
    // Kept sequences this call will fork, and how many texts still need each: one no text needs
    // is freed at once (fewer cells for every decode to attend over), the others after their last use.
    const uses = new Map<KeptPrefix, number>();
    const bases = sequences.map((tokens) => this.startOf(tokens).base);
    if (this.reuse) {
      for (const base of bases) if (base && base !== cache.pinned) uses.set(base, (uses.get(base) ?? 0) + 1);
      cache.retain((k) => uses.has(k) || (this.keepCalls > 1 && recent(k)));
    }
    const newKept: KeptPrefix[] = [];
    for (const chunk of this.chunks(order, sequences, capacity)) {
      // Room for the chunk's branches: drop the oldest texts kept so far in this call if needed.
      while (newKept.length > 0 && cache.kept.length + newKept.length + chunk.length > cache.available) cache.release(newKept.shift()!.seq);
      this.runChunkWithRetry(sequences, chunk, results, this.reuse ? newKept : null);
      cache.limitCells(newKept, this.keepCells);
      for (const i of chunk) {
        const base = bases[i];
        const left = base ? uses.get(base) : undefined;
        if (base && left !== undefined) {
          if (left > 1) uses.set(base, left - 1);
          else {
            uses.delete(base);
            // One caller: its texts extend the base, which is done with. Several: another caller's
            // text may have shared only a few tokens of it; the end of the call decides.
            if (this.keepCalls === 1) cache.retain((k) => k !== base);
          }
        }
      }
    }
    if (this.reuse) {
      // Other callers' recent texts stay (oldest first out), within the same room and cells.
      cache.retain(recent);
      const all = [...[...cache.kept].sort((a, b) => a.call - b.call), ...newKept];
      // The next call needs room for a chunk beside them.
      while (all.length > cache.available - capacity) cache.release(all.shift()!.seq);
      cache.limitCells(all, this.keepCells);
      cache.replace(all);
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

  /** Frees every kept sequence except the pinned one. */
  dropKept(): void {
    this.sequences.dropKept();
  }

  private assertFits(length: number): void {
    const cells = this.engine.info.contextSize;
    if (length > cells) {
      throw new UserError(`a text of ${length} tokens does not fit the cost model's context of ${cells} tokens`);
    }
  }

  /**
   * A chunk whose trie needs more KV cells than are free fails with "context is full": retry once
   * with an empty cache (kept sequences gone, the pinned prefix decoded again), then in halves; a
   * single text that still fails cannot be scored.
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
        this.sequences.clear();
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

  /**
   * Where a text starts decoding: after `depth` tokens of a kept (or the pinned) sequence it shares
   * them with, or from nothing. The last token is always decoded (its output row is the result),
   * and mean pooling can only start where the kept sequence has the running sum.
   */
  private startOf(tokens: readonly number[]): { base: KeptPrefix | null; depth: number } {
    if (!this.reuse) return { base: null, depth: 0 };
    const best = this.sequences.longest(tokens);
    let depth = Math.min(best.shared, tokens.length - 1);
    const base = best.base;
    if (base && this.pooling.wantMean) {
      while (depth > 0 && !base.sums?.has(depth)) depth--;
    }
    return depth > 0 && base ? { base, depth } : { base: null, depth: 0 };
  }

  private runChunk(sequences: ReadonlyArray<readonly number[]>, chunk: number[], results: Float32Array[], keep: KeptPrefix[] | null): void {
    const wantMean = this.pooling.wantMean;
    const snapshots = wantMean && keep !== null;
    const roots = buildTrie(chunk, sequences, (tokens) => this.startOf(tokens), snapshots);

    // Every root's children start a branch: a fresh sequence, or a fork of the kept prefix cut at the root's depth.
    let frontier: TrieNode[] = [];
    for (const root of roots) {
      for (const child of root.children.values()) {
        child.seq = this.sequences.acquire();
        if (root.base) {
          this.engine.fork(root.base.seq, child.seq);
          this.engine.truncate(child.seq, root.depth);
        }
        if (wantMean) child.sum = root.base ? Float64Array.from(root.base.sums!.get(root.depth)!) : new Float64Array(this.engine.info.nEmbd);
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
        this.pooling.read(part, sequences, results, snapshots);
        for (const node of part) this.advance(node, sequences, next, keep);
      }
      frontier = next;
    }
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
          ...(this.pooling.wantMean ? { sums: tailSums(node) } : {}),
        });
      } else {
        this.sequences.release(node.seq);
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
        child.seq = this.sequences.acquire();
        this.engine.fork(node.seq, child.seq);
        if (node.sum) child.sum = Float64Array.from(node.sum);
      }
      next.push(child);
    }
    // The first child took the running sum over: later siblings already hold their copies.
    node.sum = undefined;
  }
}
