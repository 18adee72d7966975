// Several generations on one engine at once, their decodes in one batch (llama.cpp server's slots).
// On a model whose forward pass streams gigabytes of weights, a decode of 4x the rows costs far less
// than 4 decodes, so requests that share the batch finish sooner than the same requests in a row.
//
// Each slot is a Decoder with its own share of the engine's sequences and KV cells. A slot's step
// waits until every slot in use has submitted its own (a barrier), then all go in ONE decode and
// each slot reads its rows at its offset in it. No decode can run between a slot's decode and its
// reads of those rows, because the next decode waits for that slot's next submission. The contract
// that follows: a job on a slot must not wait, between two of its decodes, for another slot's
// progress (the others wait for it); it may await anything else (a cost model, a timer).
import { DEFAULT_MAX_SEQUENCES } from "./constants.js";

export { MAX_PARALLEL } from "./constants.js";
import type { Decoder } from "./decoder.js";
import { prefillChunks, type Engine, type EngineInfo } from "./engine.js";

/** Most time (ms) decodes run back to back before the event loop gets a turn (EngineSlots.flushIfReady). */
const TURN_EVERY_MS = 1;

/** llama.cpp's limit on sequences in one context (LLAMA_MAX_SEQ). */
const MAX_ENGINE_SEQUENCES = 256;

/** Sequences each of `parallel` slots gets: the default an engine holds, while all fit in one context. */
export function slotSequences(parallel: number): number {
  return Math.min(DEFAULT_MAX_SEQUENCES, Math.floor(MAX_ENGINE_SEQUENCES / parallel));
}

interface Submission {
  slot: Slot;
  tokens: Int32Array;
  positions: Int32Array;
  seqs: Int32Array;
  want: Uint8Array;
  resolve: (base: number) => void;
  reject: (error: unknown) => void;
}

export class EngineSlots {
  private readonly free: Slot[];
  private readonly waiting: Array<(slot: Slot) => void> = [];
  private readonly active = new Set<Slot>();
  private pending: Submission[] = [];
  private idleResolvers: Array<() => void> = [];
  /** Decodes run through the slots; a slot's rows are those of decode number `slot.decodeId`. */
  private decodes = 0;
  /** Rows per decode of the last flushes, for `stats`. */
  private decodedRows = 0;

  constructor(
    readonly engine: Engine,
    readonly count: number,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new Error(`slots must be a positive integer (got ${count})`);
    const { maxSequences, contextSize } = engine.info;
    const sequences = Math.floor(maxSequences / count);
    const cells = Math.floor(contextSize / count);
    if (sequences < 2) throw new Error(`${count} slots need at least ${2 * count} sequences; the engine has ${maxSequences}`);
    const info: EngineInfo = { ...engine.info, maxSequences: sequences, contextSize: cells };
    this.free = Array.from({ length: count }, (_, i) => new Slot(this, engine, info, count === 1 ? -1 : i * sequences)).reverse();
  }

  /** Slots in use now. */
  get busy(): number {
    return this.active.size;
  }

  /** Decodes so far and the rows they carried (rows / decodes = how well requests shared the batch). */
  get stats(): { decodes: number; rows: number } {
    return { decodes: this.decodes, rows: this.decodedRows };
  }

  /** Runs `job` on a free slot, waiting (first come, first served) while all are in use. */
  async use<T>(job: (slot: Slot) => Promise<T>): Promise<T> {
    const slot = this.free.pop() ?? (await new Promise<Slot>((resolve) => this.waiting.push(resolve)));
    this.active.add(slot);
    try {
      // Generations started together (in one tick) all join before the first decode, so their prompts share it.
      await Promise.resolve();
      return await job(slot);
    } finally {
      this.active.delete(slot);
      slot.clear();
      // The slot that left may have been the last one the others were waiting for.
      this.flushIfReady();
      const next = this.waiting.shift();
      if (next) next(slot);
      else {
        this.free.push(slot);
        if (this.active.size === 0) for (const resolve of this.idleResolvers.splice(0)) resolve();
      }
    }
  }

  /** Resolves when no slot is in use. */
  idle(): Promise<void> {
    if (this.active.size === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleResolvers.push(resolve));
  }

  /** A slot's decode: resolves to the batch row where its first token's outputs are. */
  submit(slot: Slot, tokens: Int32Array, positions: Int32Array, seqs: Int32Array, want: Uint8Array): Promise<number> {
    if (!this.active.has(slot)) return Promise.reject(new Error("a slot decoded outside use()"));
    if (tokens.length > this.engine.info.batchSize) {
      return Promise.reject(new Error(`decode: ${tokens.length} tokens exceed the batch size ${this.engine.info.batchSize}`));
    }
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ slot, tokens, positions, seqs, want, resolve, reject });
      this.flushIfReady();
    });
  }

  /** Whether the engine's last decode is one `slot` took part in (its rows are valid). */
  lastDecodeHad(slot: Slot): boolean {
    return slot.decodeId === this.decodes;
  }

  /** True while a decode is scheduled to run on the next turn of the event loop. */
  private flushScheduled = false;
  /** When the event loop last had a turn between two decodes (performance.now() ms). */
  private lastTurn = performance.now();

  /** Whether every slot in use waits on a decode. */
  private get ready(): boolean {
    return this.pending.length > 0 && this.pending.length >= this.active.size;
  }

  /**
   * When every slot in use waits on a decode, the decode runs on the next turn of the event loop,
   * not at once: a decode blocks the thread (tens of ms on a 1B model), and run back to back the
   * decodes of the slots in use would hold off requests that arrived meanwhile (a server's
   * sockets, the poll phase of that turn) until a generation yields, a whole block later; they
   * would then share none of those decodes. Deferred, a request that arrived joins the very next
   * decode. Every slot in use is waiting on its submission meanwhile, so none reads rows. Decodes
   * of a small model (well under a millisecond) run at once until the thread has been busy for
   * TURN_EVERY_MS: a turn of the loop per decode would cost them a few percent.
   */
  private flushIfReady(): void {
    if (this.flushScheduled || !this.ready) return;
    if (performance.now() - this.lastTurn < TURN_EVERY_MS) {
      this.flush();
      return;
    }
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.lastTurn = performance.now();
      this.flush();
    });
  }

  /**
   * One decode of as many submissions as the batch holds, in submission order (a prompt chunk
   * that does not fit goes first in the next decode), if every slot in use still waits on one.
   */
  private flush(): void {
    if (!this.ready) return;
    const limit = this.engine.info.batchSize;
    let n = 0;
    let take = 0;
    while (take < this.pending.length && n + this.pending[take].tokens.length <= limit) n += this.pending[take++].tokens.length;
    const batch = this.pending.slice(0, take);
    this.pending = this.pending.slice(take);
    const tokens = new Int32Array(n);
    const positions = new Int32Array(n);
    const seqs = new Int32Array(n);
    const want = new Uint8Array(n);
    const bases: number[] = [];
    let at = 0;
    for (const s of batch) {
      bases.push(at);
      tokens.set(s.tokens, at);
      positions.set(s.positions, at);
      seqs.set(s.seqs, at);
      want.set(s.want, at);
      at += s.tokens.length;
    }
    try {
      this.engine.decode(tokens, positions, seqs, want);
    } catch (error) {
      this.decodes++; // whatever rows there were are gone
      for (const s of batch) s.reject(error);
      return;
    }
    this.decodes++;
    this.decodedRows += n;
    batch.forEach((s, i) => {
      s.slot.decodeId = this.decodes;
      s.resolve(bases[i]);
    });
  }
}

/** One generation's share of an engine: sequences 0..maxSequences-1 of its own, rows at its offset. */
export class Slot implements Decoder {
  /** Number of the slots' decode its rows belong to. */
  decodeId = -1;
  /** Its first row in that decode. */
  private base = 0;
  private ones = new Uint8Array(0);

  constructor(
    private readonly slots: EngineSlots,
    private readonly engine: Engine,
    readonly info: EngineInfo,
    /** First engine sequence id of this slot; -1: the slot is the whole engine. */
    private readonly seqOffset: number,
  ) {}

  async prefill(seq: number, tokens: readonly number[], startPos = 0): Promise<number> {
    if (tokens.length === 0) throw new Error("prefill: no tokens");
    if (startPos + tokens.length > this.info.contextSize) {
      throw new Error(`prefill: ${tokens.length} tokens from ${startPos} exceed the slot's ${this.info.contextSize} cells`);
    }
    let row = 0;
    for (const c of prefillChunks(this.global(seq), tokens, startPos, this.info.batchSize)) {
      this.base = await this.slots.submit(this, c.tokens, c.positions, c.seqs, c.want);
      row = c.tokens.length - 1;
    }
    return row;
  }

  async step(tokens: Int32Array, positions: Int32Array, seqs: Int32Array): Promise<void> {
    const n = tokens.length;
    if (this.ones.length < n) this.ones = new Uint8Array(n).fill(1);
    this.base = await this.slots.submit(this, tokens, positions, seqs.map((s) => this.global(s)), this.ones.subarray(0, n));
  }

  hidden(...[rows, out]: Parameters<Engine["hidden"]>): Float32Array {
    return this.engine.hidden(this.rows(rows), out);
  }

  logits(...[row, out]: Parameters<Engine["logits"]>): Float32Array {
    return this.engine.logits(this.rows(Int32Array.of(row))[0], out);
  }

  sample(...[rows, params, seed, bias, out]: Parameters<Engine["sample"]>): ReturnType<Engine["sample"]> {
    return this.engine.sample(this.rows(rows), params, seed, bias, out);
  }

  fork(src: number, dst: number): void {
    this.engine.fork(this.global(src), this.global(dst));
  }

  truncate(seq: number, fromPos: number): void {
    this.engine.truncate(this.global(seq), fromPos);
  }

  release(seq: number): void {
    this.engine.release(this.global(seq));
  }

  clear(): void {
    if (this.seqOffset < 0) this.engine.clear();
    else for (let s = 0; s < this.info.maxSequences; s++) this.engine.release(this.seqOffset + s);
  }

  detokenize(tokens: readonly number[], context?: readonly number[]): string {
    return this.engine.detokenize(tokens, context);
  }

  isEndOfGeneration(token: number): boolean {
    return this.engine.isEndOfGeneration(token);
  }

  endOfGenerationTokens(): readonly number[] {
    return this.engine.endOfGenerationTokens();
  }

  private global(seq: number): number {
    if (!(seq >= 0 && seq < this.info.maxSequences)) throw new RangeError(`sequence ${seq} is outside the slot's ${this.info.maxSequences}`);
    return this.seqOffset < 0 ? seq : this.seqOffset + seq;
  }

  /** Its rows in the engine's last decode (which must be one it took part in). */
  private rows(rows: Int32Array): Int32Array {
    if (!this.slots.lastDecodeHad(this)) throw new Error("a slot read rows after a decode it had no part in");
    return this.base === 0 ? rows : rows.map((r) => r + this.base);
  }
}
