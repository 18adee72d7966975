// bench/shapes: the random-weight GGUF writer at a tiny shape (dim 64, 2 layers, the Llama 2
// vocabulary): llama.cpp loads it and decodes, its metadata and tensor layout are what the shape
// says, the tokenizer is copied byte for byte, and the weights have the intended scale.
import { readGgufFileInfo } from "node-llama-cpp";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGML_TYPES, readGgufKv, tensorBytes } from "../../bench/shapes/gguf.js";
import {
  SHAPES,
  ensureShapeModel,
  isComplete,
  kvBytesPerCell,
  planShapeFile,
  shapeTensors,
  tensorData,
  toHalfBits,
  writeShapeModel,
  type ModelShape,
} from "../../bench/shapes/shapes.js";
import { Engine } from "../../src/engine/engine.js";
import { TINY_RANDOM_MODEL } from "../helpers/models.js";

const SHAPE: ModelShape = {
  name: "test-64",
  description: "test",
  nEmbd: 64,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  nFf: 96,
  contextLength: 1024,
  weightType: "q8_0",
};

const dir = mkdtempSync(join(tmpdir(), "inference-guard-shapes-"));
const path = join(dir, "test-64.gguf");
let plan: ReturnType<typeof writeShapeModel>;

beforeAll(() => {
  plan = writeShapeModel(SHAPE, path);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("metadata: llama keys of the shape, the tokenizer of llama-2-tiny-random byte for byte", async () => {
  const info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false });
  expect(info.version).toBe(3);
  const m = info.metadata as Record<string, any>;
  expect(m.general.architecture).toBe("llama");
  expect(m.general.file_type).toBe(7);
  expect(m.llama).toMatchObject({
    context_length: 1024,
    embedding_length: 64,
    block_count: 2,
    feed_forward_length: 96,
    rope: { dimension_count: 16 },
    attention: { head_count: 4, head_count_kv: 2 },
  });
  expect(m.llama.attention.layer_norm_rms_epsilon).toBeCloseTo(1e-5, 8);
  expect(m.tokenizer.ggml).toMatchObject({ model: "llama", bos_token_id: 1, eos_token_id: 2, unknown_token_id: 0 });
  expect(m.tokenizer.ggml.tokens).toHaveLength(32000);

  const ours = readGgufKv(path).kv.filter((e) => e.key.startsWith("tokenizer."));
  const source = readGgufKv(TINY_RANDOM_MODEL).kv.filter((e) => e.key.startsWith("tokenizer."));
  expect(ours.map((e) => e.key)).toEqual(source.map((e) => e.key));
  ours.forEach((e, i) => {
    expect(e.type).toBe(source[i].type);
    expect(e.raw.equals(source[i].raw)).toBe(true);
  });
});

test("tensors: llama's names and ggml shapes, each aligned to 32 bytes, ending at the end of the file", async () => {
  const info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false });
  const tensors = info.tensorInfo!;
  expect(tensors).toHaveLength(3 + 9 * SHAPE.nLayers);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const dims = (name: string) => byName.get(name)!.dimensions.map(Number);
  expect(dims("token_embd.weight")).toEqual([64, 32000]);
  expect(dims("output.weight")).toEqual([64, 32000]);
  expect(dims("output_norm.weight")).toEqual([64]);
  for (const b of ["blk.0", "blk.1"]) {
    expect(dims(`${b}.attn_q.weight`)).toEqual([64, 64]);
    expect(dims(`${b}.attn_k.weight`)).toEqual([64, 32]); // 2 KV heads of 16
    expect(dims(`${b}.attn_v.weight`)).toEqual([64, 32]);
    expect(dims(`${b}.attn_output.weight`)).toEqual([64, 64]);
    expect(dims(`${b}.ffn_gate.weight`)).toEqual([64, 96]);
    expect(dims(`${b}.ffn_up.weight`)).toEqual([64, 96]);
    expect(dims(`${b}.ffn_down.weight`)).toEqual([96, 64]);
    expect(byName.get(`${b}.attn_norm.weight`)!.ggmlType).toBe(GGML_TYPES.f32.id);
    expect(byName.get(`${b}.ffn_gate.weight`)!.ggmlType).toBe(GGML_TYPES.q8_0.id);
  }
  for (const t of tensors) expect(Number(t.fileOffset) % 32).toBe(0);
  const last = tensors.reduce((a, b) => (Number(b.fileOffset) > Number(a.fileOffset) ? b : a));
  const specs = shapeTensors(SHAPE, 32000);
  const lastSpec = specs.find((s) => s.name === last.name)!;
  const { size } = statSync(path);
  expect(Number(last.fileOffset) + tensorBytes(lastSpec)).toBe(size);
  expect(size).toBe(plan.layout.totalBytes);
  // token_embd + output at 34 bytes per 32 weights dominate.
  expect(tensorBytes(specs[0])).toBe((64 * 32000 * 34) / 32);
});

test("weights: q8_0 blocks with one f16 scale each, std ~0.02, reproducible from the seed", () => {
  const spec = shapeTensors(SHAPE, 32000).find((t) => t.name === "blk.0.ffn_up.weight")!;
  const bytes = Buffer.concat([...tensorData(spec, 1)].map((c) => Buffer.from(c)));
  expect(bytes.length).toBe(tensorBytes(spec));
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let p = 0; p < bytes.length; p += 34) {
    const scale = halfToFloat(bytes.readUInt16LE(p));
    for (let i = 0; i < 32; i++) {
      const w = scale * bytes.readInt8(p + 2 + i);
      sum += w;
      sumSq += w * w;
      n++;
    }
  }
  const mean = sum / n;
  const std = Math.sqrt(sumSq / n - mean * mean);
  expect(Math.abs(mean)).toBeLessThan(0.002);
  expect(std).toBeGreaterThan(0.018);
  expect(std).toBeLessThan(0.022);
  const again = Buffer.concat([...tensorData(spec, 1)].map((c) => Buffer.from(c)));
  expect(again.equals(bytes)).toBe(true);
  const otherSeed = Buffer.concat([...tensorData(spec, 2)].map((c) => Buffer.from(c)));
  expect(otherSeed.equals(bytes)).toBe(false);
});

test("llama.cpp loads it through the Engine and decodes: finite logits, hidden states of 64, a sampled token", async () => {
  const engine = await Engine.load({ modelPath: path, threads: 1, contextSize: 256, maxSequences: 4, batchSize: 64 });
  try {
    expect(engine.info).toMatchObject({ nEmbd: 64, nVocab: 32000, trainContextSize: 1024 });
    const prompt = engine.completionPrompt("Once upon a time");
    expect(prompt).toEqual([1, 9038, 2501, 263, 931]); // Llama 2's tokenizer
    const row = engine.prefill(0, prompt);
    const logits = engine.logits(row);
    expect(logits.every(Number.isFinite)).toBe(true);
    expect(Math.max(...logits) - Math.min(...logits)).toBeGreaterThan(0);
    expect(engine.hidden(Int32Array.of(row))).toHaveLength(64);
    const { tokens } = engine.sample(Int32Array.of(row), { temperature: 1, topK: 0, topP: 1 } as never, 1n);
    expect(tokens[0]).toBeGreaterThanOrEqual(0);
    expect(tokens[0]).toBeLessThan(32000);
    engine.step(tokens, Int32Array.of(prompt.length), Int32Array.of(0));
    expect(engine.logits(0).every(Number.isFinite)).toBe(true);
  } finally {
    await engine.dispose();
  }
});

test("the cache: a complete file is kept, a cut or foreign one is not complete, a killed build's temp file goes", () => {
  expect(isComplete(path, plan)).toBe(true);
  const cut = join(dir, "cut.gguf");
  copyFileSync(path, cut);
  truncateSync(cut, plan.layout.totalBytes - 1);
  expect(isComplete(cut, plan)).toBe(false);
  expect(isComplete(join(dir, "missing.gguf"), plan)).toBe(false);
  // Another shape's header: same size is not enough.
  const other = planShapeFile({ ...SHAPE, contextLength: 2048 });
  expect(isComplete(path, other)).toBe(false);

  const cacheDir = join(dir, "cache");
  const first = ensureShapeModel("tiny-64", { dir: cacheDir });
  expect(first.built).toBe(true);
  // A leftover of a build whose process is gone (pid 2^22 + 1 is above Linux's pid_max).
  writeFileSync(join(cacheDir, `tiny-64.gguf.tmp-${2 ** 22 + 1}`), "half");
  const second = ensureShapeModel("tiny-64", { dir: cacheDir });
  expect(second).toMatchObject({ built: false, path: first.path });
  truncateSync(first.path, 1000);
  expect(ensureShapeModel("tiny-64", { dir: cacheDir }).built).toBe(true);
  expect(readdirSync(cacheDir)).toEqual(["tiny-64.gguf"]);
  expect(existsSync(first.path)).toBe(true);
});

test("KV bytes per cell of the catalogue's shapes (f16 keys and values of every layer)", () => {
  // TinyLlama: 22 layers x 4 KV heads x 64 x (K + V) x 2 bytes = 22 KiB.
  expect(kvBytesPerCell(SHAPES["tinyllama-1.1b"])).toBe(22 * 4 * 64 * 2 * 2);
  expect(toHalfBits(1)).toBe(0x3c00);
  expect(toHalfBits(-2)).toBe(0xc000);
});

function halfToFloat(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * 2 ** -14 * (mant / 1024);
  return sign * 2 ** (exp - 15) * (1 + mant / 1024);
}
