// Random-weight llama GGUFs at real model shapes, for measuring speed where users run the guard
// (1-8B models, where a decode streams the weights) without downloading a model. The weights are
// seeded noise (std ~0.02, like an initialised model); the tokenizer (every tokenizer.* key) is
// copied from ../shared/models/llama-2-tiny-random.gguf, so prompts tokenize like Llama 2's.
// Files are cached outside the repository (see shapesDir) and built once; see `npm run shapes:build`.
import { closeSync, existsSync, mkdirSync, openSync, readSync, readdirSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { SHARED_DIR } from "../../src/paths.js";
import { writeFileAtomicWith } from "../../src/util/files.js";
import { GGML_TYPES, GgufType, ggufLayout, kv, kvArrayLength, readGgufKv, tensorBytes, writeGguf, type GgmlTypeName, type GgufKv, type GgufLayout, type TensorSpec } from "./gguf.js";
import { processAlive } from "../../src/util/process.js";

export interface ModelShape {
  name: string;
  description: string;
  nEmbd: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  nFf: number;
  contextLength: number;
  /** Type of every 2-D weight matrix (token_embd and output included); norms are f32. */
  weightType: Extract<GgmlTypeName, "q8_0" | "q4_0">;
  rmsEps?: number;
  ropeFreqBase?: number;
}

export const SHAPES: Record<string, ModelShape> = {
  "tinyllama-1.1b": {
    name: "tinyllama-1.1b",
    description: "TinyLlama 1.1B shape: dim 2048, 22 layers, 32 heads, 4 KV heads, FFN 5632, Q8_0 (~1.2 GB)",
    nEmbd: 2048,
    nLayers: 22,
    nHeads: 32,
    nKvHeads: 4,
    nFf: 5632,
    contextLength: 2048,
    weightType: "q8_0",
  },
  "openllama-3b": {
    name: "openllama-3b",
    description: "OpenLLaMA 3B shape: dim 3200, 26 layers, 32 heads, 32 KV heads, FFN 8640, Q4_0 (~1.9 GB)",
    nEmbd: 3200,
    nLayers: 26,
    nHeads: 32,
    nKvHeads: 32,
    nFf: 8640,
    contextLength: 2048,
    weightType: "q4_0",
  },
  "tiny-64": {
    name: "tiny-64",
    description: "a smoke-test shape: dim 64, 2 layers, 4 heads, 2 KV heads, FFN 128, Q8_0 (~4.5 MB, mostly the 32k vocabulary)",
    nEmbd: 64,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    nFf: 128,
    contextLength: 2048,
    weightType: "q8_0",
  },
};

export const DEFAULT_SHAPE = "tinyllama-1.1b";
export const SHAPES_DIR_ENV = "INFERENCE_GUARD_SHAPES_DIR";
export const TOKENIZER_SOURCE = join(SHARED_DIR, "models", "llama-2-tiny-random.gguf");
/** Standard deviation of the random weights (a usual initialisation scale). */
export const WEIGHT_STD = 0.02;

/** $INFERENCE_GUARD_SHAPES_DIR, else ~/.cache/inference-guard/shapes. */
export function shapesDir(): string {
  return process.env[SHAPES_DIR_ENV] || join(homedir(), ".cache", "inference-guard", "shapes");
}

export function shapePath(shape: string, dir = shapesDir()): string {
  return join(dir, `${shape}.gguf`);
}

export function getShape(name: string): ModelShape {
  const shape = SHAPES[name];
  if (!shape) throw new Error(`unknown shape "${name}"; known: ${Object.keys(SHAPES).join(", ")}`);
  return shape;
}

export const headDim = (s: ModelShape) => s.nEmbd / s.nHeads;

/** KV cache bytes per cell (keys and values of every layer) at f16, as llama.cpp allocates them. */
export function kvBytesPerCell(s: ModelShape, bytesPerValue = 2): number {
  return s.nLayers * s.nKvHeads * headDim(s) * 2 * bytesPerValue;
}

function checkShape(s: ModelShape): void {
  const { block } = GGML_TYPES[s.weightType];
  if (s.nEmbd % s.nHeads !== 0) throw new Error(`${s.name}: nEmbd ${s.nEmbd} is not a multiple of nHeads ${s.nHeads}`);
  if (s.nHeads % s.nKvHeads !== 0) throw new Error(`${s.name}: nHeads ${s.nHeads} is not a multiple of nKvHeads ${s.nKvHeads}`);
  for (const [what, n] of [["nEmbd", s.nEmbd], ["nFf", s.nFf]] as const) {
    if (n % block !== 0) throw new Error(`${s.name}: ${what} ${n} must be a multiple of ${block} for ${s.weightType}`);
  }
}

/** The tensors llama.cpp's llama architecture loads, in ggml dimension order. */
export function shapeTensors(s: ModelShape, nVocab: number): TensorSpec[] {
  checkShape(s);
  const w = s.weightType;
  const kvDim = headDim(s) * s.nKvHeads;
  const tensors: TensorSpec[] = [
    { name: "token_embd.weight", dims: [s.nEmbd, nVocab], type: w },
    { name: "output_norm.weight", dims: [s.nEmbd], type: "f32" },
    { name: "output.weight", dims: [s.nEmbd, nVocab], type: w },
  ];
  for (let i = 0; i < s.nLayers; i++) {
    const b = `blk.${i}`;
    tensors.push(
      { name: `${b}.attn_norm.weight`, dims: [s.nEmbd], type: "f32" },
      { name: `${b}.attn_q.weight`, dims: [s.nEmbd, s.nEmbd], type: w },
      { name: `${b}.attn_k.weight`, dims: [s.nEmbd, kvDim], type: w },
      { name: `${b}.attn_v.weight`, dims: [s.nEmbd, kvDim], type: w },
      { name: `${b}.attn_output.weight`, dims: [s.nEmbd, s.nEmbd], type: w },
      { name: `${b}.ffn_norm.weight`, dims: [s.nEmbd], type: "f32" },
      { name: `${b}.ffn_gate.weight`, dims: [s.nEmbd, s.nFf], type: w },
      { name: `${b}.ffn_down.weight`, dims: [s.nFf, s.nEmbd], type: w },
      { name: `${b}.ffn_up.weight`, dims: [s.nEmbd, s.nFf], type: w },
    );
  }
  return tensors;
}

/** llama.cpp's general.file_type (llama_ftype) of a model whose matrices are all of one type. */
const FILE_TYPE: Record<ModelShape["weightType"], number> = { q4_0: 2, q8_0: 7 };

/** The tokenizer.* entries of a GGUF, with their exact types, and its vocabulary size. */
export function readTokenizer(path = TOKENIZER_SOURCE): { kv: GgufKv[]; nVocab: number } {
  const entries = readGgufKv(path).kv.filter((e) => e.key.startsWith("tokenizer."));
  const tokens = entries.find((e) => e.key === "tokenizer.ggml.tokens");
  if (!tokens || tokens.type !== GgufType.ARRAY) throw new Error(`${path} has no tokenizer.ggml.tokens array`);
  return { kv: entries, nVocab: kvArrayLength(tokens) };
}

export function shapeMetadata(s: ModelShape, tokenizer: readonly GgufKv[], nVocab: number): GgufKv[] {
  checkShape(s);
  return [
    kv.string("general.architecture", "llama"),
    kv.string("general.name", `random ${s.name} (inference-guard shapes)`),
    kv.u32("general.file_type", FILE_TYPE[s.weightType]),
    kv.u32("general.quantization_version", 2),
    kv.u32("llama.vocab_size", nVocab),
    kv.u32("llama.context_length", s.contextLength),
    kv.u32("llama.embedding_length", s.nEmbd),
    kv.u32("llama.block_count", s.nLayers),
    kv.u32("llama.feed_forward_length", s.nFf),
    kv.u32("llama.rope.dimension_count", headDim(s)),
    kv.f32("llama.rope.freq_base", s.ropeFreqBase ?? 10000),
    kv.u32("llama.attention.head_count", s.nHeads),
    kv.u32("llama.attention.head_count_kv", s.nKvHeads),
    kv.f32("llama.attention.layer_norm_rms_epsilon", s.rmsEps ?? 1e-5),
    ...tokenizer,
  ];
}

// ---- random tensor data ----

/** float32 -> IEEE half bits (round to nearest; normal range only, which is all a scale needs). */
export function toHalfBits(value: number): number {
  const f = new Float32Array([value]);
  const bits = new Uint32Array(f.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  const mant = bits & 0x7fffff;
  if (exp <= 0 || exp >= 31) throw new Error(`toHalfBits: ${value} is outside the normal half range`);
  const rounded = (exp << 10) + (mant >>> 13) + ((mant >>> 12) & 1);
  return sign | rounded;
}

/** FNV-1a of a string: the per-tensor seed, so every tensor's data is reproducible on its own. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Blocks per chunk: a ~1 MB write for q8_0; chunk sizes stay multiples of 4 for the Uint32 fill. */
const CHUNK_BLOCKS = 32768;

/**
 * The data of one tensor, in chunks (the same buffer, refilled: consume each chunk before the next).
 * Quantized blocks: uniform random quants from xorshift32 and one f16 scale giving std WEIGHT_STD.
 * Norm weights (f32): 1.
 */
export function* tensorData(t: TensorSpec, seed: number): Generator<Uint8Array> {
  const total = tensorBytes(t);
  if (t.type === "f32") {
    const ones = new Float32Array(total / 4).fill(1);
    yield new Uint8Array(ones.buffer);
    return;
  }
  if (t.type !== "q8_0" && t.type !== "q4_0") throw new Error(`tensorData: no random data for ${t.type}`);
  const { bytes } = GGML_TYPES[t.type];
  // Standard deviation of one quant: uniform over the 256 int8 values (q8_0) or the 16 nibbles - 8 (q4_0).
  const quantStd = t.type === "q8_0" ? Math.sqrt((256 * 256 - 1) / 12) : Math.sqrt((16 * 16 - 1) / 12);
  const buf = new Uint8Array(CHUNK_BLOCKS * bytes + 4);
  const words = new Uint32Array(buf.buffer, 0, buf.length / 4);
  let x = (hash32(t.name) ^ Math.imul(seed, 0x9e3779b1)) | 1;
  const scale = toHalfBits(WEIGHT_STD / quantStd);
  const lo = scale & 0xff;
  const hi = scale >>> 8;
  for (let done = 0; done < total; ) {
    const n = Math.min(total - done, CHUNK_BLOCKS * bytes);
    const nWords = Math.ceil(n / 4);
    for (let i = 0; i < nWords; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    for (let p = 0; p < n; p += bytes) {
      buf[p] = lo;
      buf[p + 1] = hi;
    }
    done += n;
    yield buf.subarray(0, n);
  }
}

// ---- building and caching ----

export interface ShapeFile {
  shape: ModelShape;
  nVocab: number;
  tensors: TensorSpec[];
  layout: GgufLayout;
}

/** Everything about the file of a shape except its tensor data (cheap: reads the tokenizer only). */
export function planShapeFile(s: ModelShape, tokenizerPath = TOKENIZER_SOURCE): ShapeFile {
  const tokenizer = readTokenizer(tokenizerPath);
  const tensors = shapeTensors(s, tokenizer.nVocab);
  const layout = ggufLayout(shapeMetadata(s, tokenizer.kv, tokenizer.nVocab), tensors);
  return { shape: s, nVocab: tokenizer.nVocab, tensors, layout };
}

/** Whether `path` is a whole file of this plan (the header it would be written with, and its size). */
export function isComplete(path: string, plan: ShapeFile): boolean {
  if (!existsSync(path)) return false;
  if (statSync(path).size !== plan.layout.totalBytes) return false;
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(plan.layout.header.length);
    const got = readSyncAll(fd, head);
    return got === head.length && head.equals(plan.layout.header);
  } finally {
    closeSync(fd);
  }
}

function readSyncAll(fd: number, buf: Buffer): number {
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, off);
    if (n === 0) break;
    off += n;
  }
  return off;
}

/** Temporary files of killed builds (their process is gone). */
function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `${basename(path)}.tmp-`;
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) continue;
    rmSync(join(dir, name), { force: true });
  }
}

export interface BuildOptions {
  tokenizerPath?: string;
  /** Seed of the weights (default 1). */
  seed?: number;
  /** Called after every chunk written. */
  onProgress?: (written: number, total: number) => void;
}

/**
 * Writes the GGUF of a shape to `path` through a temporary file renamed at the end, so `path`
 * is never a partial file (a killed build leaves a `.tmp-PID` file, removed by the next build).
 */
export function writeShapeModel(s: ModelShape, path: string, options: BuildOptions = {}): ShapeFile {
  const plan = planShapeFile(s, options.tokenizerPath);
  const seed = options.seed ?? 1;
  mkdirSync(dirname(path), { recursive: true });
  removeStaleTemps(path);
  let written = 0;
  // The temp file is named by its writer's pid, so removeStaleTemps can tell a dead build's leftover from a live one.
  writeFileAtomicWith(
    path,
    (fd) =>
      writeGguf(fd, plan.layout, plan.tensors, function* (i) {
        for (const chunk of tensorData(plan.tensors[i], seed)) {
          yield chunk;
          written += chunk.length;
          options.onProgress?.(written, plan.layout.totalBytes);
        }
      }),
    `${path}.tmp-${process.pid}`,
  );
  return plan;
}

/** The cached file of a shape, built first when it is missing or incomplete. */
export function ensureShapeModel(name: string, options: BuildOptions & { dir?: string } = {}): { path: string; built: boolean; plan: ShapeFile } {
  const shape = getShape(name);
  const path = shapePath(name, options.dir);
  const plan = planShapeFile(shape, options.tokenizerPath);
  if (isComplete(path, plan)) return { path, built: false, plan };
  return { path, built: true, plan: writeShapeModel(shape, path, options) };
}

/** The cached file of a shape when it is there and complete; undefined otherwise (nothing is built). */
export function cachedShapeModel(name: string, dir?: string): string | undefined {
  const path = shapePath(name, dir);
  return isComplete(path, planShapeFile(getShape(name))) ? path : undefined;
}
