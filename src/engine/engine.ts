// The engine: loads a GGUF through node-llama-cpp and runs beams as sequences of one llama.cpp
// context. One `step` extends every live beam by a token in ONE batched decode; each beam's
// next-token distribution and last-layer hidden state come from its own row of that forward pass.
// The model file's checks and the facts read from its metadata are ggufFile.ts's; the measured
// thread and flash-attention defaults are runtimeDefaults.ts's.
import {
  getLlama,
  resolveChatWrapper,
  type Llama,
  type LlamaEmbeddingContext,
  type LlamaModel,
} from "node-llama-cpp";
import { UserError } from "../errors.js";
import { seedHalves, type NativeBatchContext, type SampleParams } from "../native.js";
import { DEFAULT_MAX_SEQUENCES, MAX_CONTEXT_SIZE } from "./constants.js";
import { assertGgufFile, hasChatTemplate, kvBytesPerCell } from "./ggufFile.js";
import { checkNodeLlamaCpp, createBatchContext } from "./nodeLlamaInternals.js";
import { defaultFlashAttention, defaultThreads, type GpuOption } from "./runtimeDefaults.js";

export { DEFAULT_MAX_SEQUENCES, DETOKENIZE_CONTEXT, MAX_CONTEXT_SIZE } from "./constants.js";
export { defaultFlashAttention, defaultThreads, type GpuOption } from "./runtimeDefaults.js";

export interface EngineOptions {
  /** Path of a GGUF file. */
  modelPath: string;
  /** llama.cpp backend: false = CPU (default), or a GPU backend node-llama-cpp ships a prebuilt binary for. */
  gpu?: GpuOption;
  /** Threads for llama.cpp. Default: see defaultThreads(). */
  threads?: number;
  /**
   * KV cache cells shared by all beams (unified cache): the engine never uses more, whatever
   * llama.cpp rounds its own allocation up to. A function receives facts of the loaded model
   * (to size the cache from its trained context and its memory per cell). Default 4096.
   */
  contextSize?: number | ((model: ModelFacts) => number);
  /** Sequences (beams + candidates) the context can hold at once. Default DEFAULT_MAX_SEQUENCES. */
  maxSequences?: number;
  /** Tokens one decode may carry (prompt chunks, candidates per step). Default 512. */
  batchSize?: number;
  /** llama.cpp flash attention. Default "auto". */
  flashAttention?: "auto" | "on" | "off";
  /** KV cache precision. Default "f16". */
  kvCacheType?: "f16" | "f32";
}

/** What a context size can be chosen from, once the model is loaded. */
export interface ModelFacts {
  trainContextSize: number;
  /** Bytes one KV cell takes (keys and values of every layer) at the engine's KV cache type. */
  kvBytesPerCell: number;
}


/**
 * llama.cpp rounds a context up to a multiple of 256 cells and clamps its batch to the context
 * it was asked for; asked for fewer cells than sequences, it aborts the process
 * (GGML_ASSERT n_outputs_max). So the native context always gets at least this many cells (and
 * a batch that fits in them), while the engine keeps to the cells it was asked for.
 */
const MIN_NATIVE_CONTEXT = 256;

export interface EngineInfo {
  modelPath: string;
  nVocab: number;
  nEmbd: number;
  contextSize: number;
  trainContextSize: number;
  maxSequences: number;
  batchSize: number;
  threads: number;
  gpu: string | false;
  /** The GGUF carries a chat template (`tokenizer.chat_template`): chat prompts are rendered with it. */
  chatTemplate: boolean;
}

/** A per-row additive logit bias in CSR form: row r uses entries rowPtr[r]..rowPtr[r+1]. */
export interface LogitBias {
  rowPtr: Int32Array;
  tokens: Int32Array;
  values: Float32Array;
}

function assertCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new UserError(`${name} must be a positive integer (got ${value})`);
  if (name === "contextSize" && value > MAX_CONTEXT_SIZE) throw new UserError(`contextSize must be at most ${MAX_CONTEXT_SIZE} (got ${value})`);
}

let llamaPromise: Promise<Llama> | undefined;
let llamaGpu: GpuOption | undefined;

/** One llama.cpp runtime per process (node-llama-cpp loads the binary once); never builds or downloads. */
async function loadLlama(gpu: GpuOption): Promise<Llama> {
  if (llamaPromise && llamaGpu === gpu) return llamaPromise;
  if (llamaPromise) throw new UserError(`llama.cpp is already loaded with gpu=${String(llamaGpu)} in this process`);
  llamaGpu = gpu;
  llamaPromise = (async () => {
    await checkNodeLlamaCpp();
    try {
      return await getLlama({ gpu, build: "never", usePrebuiltBinaries: true, progressLogs: false, logLevel: "error" as never });
    } catch (error) {
      llamaPromise = undefined;
      throw new UserError(`could not load llama.cpp for gpu=${String(gpu)}: ${(error as Error).message}`);
    }
  })();
  return llamaPromise;
}

/**
 * The decodes of a prompt: chunks of at most `chunk` tokens of sequence `seq` from `startPos`, the
 * output of the last token alone wanted. Its row is then the last chunk's length - 1.
 */
export function* prefillChunks(seq: number, tokens: readonly number[], startPos: number, chunk: number) {
  for (let start = 0; start < tokens.length; start += chunk) {
    const n = Math.min(chunk, tokens.length - start);
    const want = new Uint8Array(n);
    if (start + n === tokens.length) want[n - 1] = 1;
    yield {
      tokens: Int32Array.from(tokens.slice(start, start + n)),
      positions: Int32Array.from({ length: n }, (_, i) => startPos + start + i),
      seqs: new Int32Array(n).fill(seq),
      want,
    };
  }
}

export class Engine {
  readonly info: EngineInfo;
  private readonly wantOutput: Uint8Array;
  private embeddingContext?: Promise<LlamaEmbeddingContext>;
  private disposed = false;

  private constructor(
    readonly model: LlamaModel,
    private readonly ctx: NativeBatchContext,
    info: EngineInfo,
  ) {
    this.info = info;
    this.wantOutput = new Uint8Array(info.batchSize).fill(1);
  }

  static async load(options: EngineOptions): Promise<Engine> {
    const maxSequences = options.maxSequences ?? DEFAULT_MAX_SEQUENCES;
    const batchSize = options.batchSize ?? 512;
    const given = { threads: options.threads, maxSequences, batchSize, ...(typeof options.contextSize === "number" ? { contextSize: options.contextSize } : {}) };
    for (const [name, value] of Object.entries(given)) if (value !== undefined) assertCount(name, value);
    // llama.cpp reserves an output row per sequence in every decode: the batch must hold them all.
    if (maxSequences > MIN_NATIVE_CONTEXT) throw new UserError(`maxSequences must be at most ${MIN_NATIVE_CONTEXT} (got ${maxSequences})`);
    if (batchSize < maxSequences) throw new UserError(`batchSize (${batchSize}) must be at least maxSequences (${maxSequences})`);
    const modelBytes = await assertGgufFile(options.modelPath);
    const gpu = options.gpu ?? false;
    const flashAttention = options.flashAttention ?? defaultFlashAttention(gpu, modelBytes);
    const llama = await loadLlama(gpu);
    let model: LlamaModel;
    try {
      model = await llama.loadModel({
        modelPath: options.modelPath,
        gpuLayers: gpu === false ? 0 : "auto",
        defaultContextFlashAttention: flashAttention === "auto" ? "auto" : flashAttention === "on",
      });
    } catch (error) {
      throw new UserError(`llama.cpp could not load ${options.modelPath}: ${(error as Error).message}`);
    }
    const nEmbd = model.embeddingVectorSize;
    const threads = options.threads ?? defaultThreads(nEmbd);
    const kvCacheType = options.kvCacheType ?? "f16";
    let contextSize: number;
    let ctx: NativeBatchContext;
    try {
      contextSize =
        typeof options.contextSize === "function"
          ? options.contextSize({ trainContextSize: model.trainContextSize, kvBytesPerCell: kvBytesPerCell(model, kvCacheType) })
          : (options.contextSize ?? 4096);
      assertCount("contextSize", contextSize);
      const nativeContext = Math.max(contextSize, MIN_NATIVE_CONTEXT);
      ctx = createBatchContext(model, {
        contextSize: nativeContext,
        batchSize: Math.min(batchSize, nativeContext),
        sequences: maxSequences,
        threads,
        flashAttention,
        kvCacheType,
      });
    } catch (error) {
      await model.dispose();
      throw error;
    }
    const native = ctx.info();
    const engine = new Engine(model, ctx, {
      modelPath: options.modelPath,
      nVocab: native.nVocab,
      nEmbd: native.nEmbd,
      contextSize,
      trainContextSize: native.nCtxTrain,
      maxSequences: native.nSeqMax,
      batchSize: native.nBatch,
      threads,
      gpu: llama.gpu,
      chatTemplate: hasChatTemplate(model),
    });
    // Our context must go before the weights it points into.
    model.onDispose.createListener(() => engine.disposeContext());
    return engine;
  }

  // ---- text ----

  /** Prompt tokens for plain completion: BOS (when the model wants one) + the text. */
  completionPrompt(text: string): number[] {
    const tokens = this.model.tokenize(text, false) as number[];
    const bos = this.model.tokens.bos;
    return this.model.tokens.shouldPrependBosToken && bos != null ? [bos, ...tokens] : tokens;
  }

  /** Tokens of plain text, no BOS and no special tokens (an answer's text after a rendered prompt). */
  tokenize(text: string): number[] {
    return text === "" ? [] : (this.model.tokenize(text, false) as number[]);
  }

  private chatWrapper?: ReturnType<typeof resolveChatWrapper>;

  /** Prompt tokens for an instruction model: the user message rendered by the model's chat template. */
  chatPrompt(messages: ReadonlyArray<{ role: "system" | "user" | "assistant"; content: string }>): number[] {
    // The GGUF's own Jinja template, not the built-in wrapper node-llama-cpp's "auto" judges
    // equivalent to it: for SmolLM2 that ChatML wrapper doubled the BOS (<|im_start|>, which the
    // template never writes) and dropped the default system prompt the template adds
    // (test/smollm2/chatTemplate.test.ts). Resolved once per engine (it parses the template).
    const wrapper = (this.chatWrapper ??= resolveChatWrapper(this.model, this.info.chatTemplate ? { type: "jinjaTemplate" } : {}));
    const chatHistory = messages.map((m) =>
      m.role === "assistant" ? { type: "model" as const, response: [m.content] } : { type: m.role, text: m.content },
    );
    if (chatHistory.at(-1)?.type !== "model") chatHistory.push({ type: "model", response: [] });
    const { contextText } = wrapper.generateContextState({ chatHistory });
    return contextText.tokenize(this.model.tokenizer) as number[];
  }

  /** Text of `tokens`; `context` (the tokens before them) makes word pieces join as in the full text. */
  detokenize(tokens: readonly number[], context?: readonly number[]): string {
    return this.model.detokenize(tokens as never, false, context as never);
  }

  isEndOfGeneration(token: number): boolean {
    return this.model.isEogToken(token as never);
  }

  private eogTokens?: number[];

  /** Every end-of-generation token of the vocabulary (scanned once, on first use). */
  endOfGenerationTokens(): readonly number[] {
    if (!this.eogTokens) {
      this.eogTokens = [];
      for (let t = 0; t < this.info.nVocab; t++) if (this.model.isEogToken(t as never)) this.eogTokens.push(t);
    }
    return this.eogTokens;
  }

  // ---- sequences and decoding ----

  /**
   * Decodes `tokens` into sequence `seq` starting at `startPos`, in chunks of the batch size.
   * Returns the batch row of the last token (valid until the next decode).
   */
  prefill(seq: number, tokens: readonly number[], startPos = 0): number {
    if (tokens.length === 0) throw new Error("prefill: no tokens");
    if (startPos + tokens.length > this.info.contextSize) {
      throw new UserError(`the prompt has ${tokens.length} tokens but the context holds ${this.info.contextSize}`);
    }
    let row = 0;
    for (const c of prefillChunks(seq, tokens, startPos, this.info.batchSize)) {
      this.ctx.decode(c.tokens, c.positions, c.seqs, c.want);
      row = c.tokens.length - 1;
    }
    return row;
  }

  /**
   * Extends sequences by one token each in one batched decode: entry i puts tokens[i] at
   * positions[i] of sequence seqs[i]; its outputs are then batch row i.
   */
  step(tokens: Int32Array, positions: Int32Array, seqs: Int32Array): void {
    const n = tokens.length;
    if (n > this.info.batchSize) throw new Error(`step: ${n} tokens exceed the batch size ${this.info.batchSize}`);
    this.ctx.decode(tokens, positions, seqs, this.wantOutput.subarray(0, n));
  }

  /** One decode of any mix of tokens (EngineSlots packs several slots' decodes into one). */
  decode(tokens: Int32Array, positions: Int32Array, seqs: Int32Array, wantOutput: Uint8Array): void {
    if (tokens.length > this.info.batchSize) throw new Error(`decode: ${tokens.length} tokens exceed the batch size ${this.info.batchSize}`);
    this.ctx.decode(tokens, positions, seqs, wantOutput);
  }

  /** Copies the hidden states of the given batch rows of the last decode into `out` (rows × nEmbd). */
  hidden(rows: Int32Array, out = new Float32Array(rows.length * this.info.nEmbd)): Float32Array {
    this.ctx.readHidden(rows, out);
    return out;
  }

  logits(row: number, out = new Float32Array(this.info.nVocab)): Float32Array {
    this.ctx.readLogits(row, out);
    return out;
  }

  /**
   * Samples one token per entry from the logits of `rows` (a row may repeat: each entry draws its own
   * number from (seed, entry index)). Returns the tokens and their log-probabilities under the
   * unbiased model at temperature 1 (the reward signal).
   */
  sample(
    rows: Int32Array,
    params: SampleParams,
    seed: bigint,
    bias?: LogitBias,
    out = { tokens: new Int32Array(rows.length), logProbs: new Float32Array(rows.length) },
  ): { tokens: Int32Array; logProbs: Float32Array } {
    const { hi, lo } = seedHalves(seed);
    this.ctx.sample(
      rows,
      params,
      hi,
      lo,
      bias?.rowPtr ?? null,
      bias?.tokens ?? null,
      bias?.values ?? null,
      out.tokens,
      out.logProbs,
    );
    return out;
  }

  /** Makes `dst` a fork of `src`: it shares src's KV cells (no re-evaluation, no copy). */
  fork(src: number, dst: number): void {
    this.ctx.seqCopy(src, dst);
  }

  /** Drops positions >= fromPos of `seq` (all of it with 0). */
  truncate(seq: number, fromPos: number): void {
    this.ctx.seqRemove(seq, fromPos, -1);
  }

  release(seq: number): void {
    this.ctx.seqRemove(seq, -1, -1);
  }

  /** Frees every sequence (start of a new generation). */
  clear(): void {
    this.ctx.clear();
  }

  /**
   * Slow reference path: the last-layer hidden state of the last of `tokens`, evaluated from scratch
   * through node-llama-cpp's public embedding API. Used by tests to check the fast path.
   */
  async referenceHidden(tokens: readonly number[]): Promise<Float32Array> {
    this.embeddingContext ??= this.model.createEmbeddingContext({
      contextSize: Math.min(this.info.trainContextSize, 4096),
      threads: this.info.threads,
    });
    const embedding = await (await this.embeddingContext).getEmbeddingFor(tokens as never);
    return Float32Array.from(embedding.vector);
  }

  private disposeContext(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ctx.dispose();
  }

  async dispose(): Promise<void> {
    if (this.embeddingContext) await (await this.embeddingContext).dispose();
    this.disposeContext();
    await this.model.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
