// A model file before and after node-llama-cpp opens it: the checks that turn a missing, foreign or
// cut-short file into a one-line UserError (llama.cpp would say only "Failed to load model"), and
// the facts the engine reads from the GGUF metadata node-llama-cpp parsed (chat template, KV bytes).
import { open, stat } from "node:fs/promises";
import { readGgufFileInfo, type LlamaModel } from "node-llama-cpp";
import { ModelFileNotFoundError, UserError } from "../errors.js";

const GGUF_MAGIC = "GGUF";

/** Checks the file is a whole GGUF (not cut short); returns its size in bytes. */
export async function assertGgufFile(path: string): Promise<number> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new UserError(`model path is not a file: ${path}`);
    size = info.size;
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new ModelFileNotFoundError(path);
  }
  const handle = await open(path, "r");
  try {
    const magic = Buffer.alloc(4);
    await handle.read(magic, 0, 4, 0);
    if (size < 4 || magic.toString("latin1") !== GGUF_MAGIC) {
      throw new UserError(`not a GGUF model file: ${path}`);
    }
  } finally {
    await handle.close();
  }
  await assertGgufComplete(path, size);
  return size;
}

/** [elements per block, bytes per block] of the ggml tensor types (ggml.c's type_traits), by type id. */
const GGML_TYPE_SIZES: Record<number, [number, number]> = {
  0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 9: [32, 36],
  10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 15: [256, 292],
  24: [1, 1], 25: [1, 2], 26: [1, 4], 27: [1, 8], 28: [1, 8], 30: [1, 2],
};

/**
 * A GGUF cut short (an interrupted download or copy) fails inside llama.cpp with "Failed to load
 * model" and the cause only in its log, or inside node-llama-cpp's metadata reader with a
 * TypeError. Its header says where every tensor lies: check the file reaches the end of the last one.
 */
async function assertGgufComplete(path: string, size: number): Promise<void> {
  let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
  try {
    // Only this file's own tensors: in a split model the other parts' offsets are into their own files.
    info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false, spliceSplitFiles: false });
  } catch (error) {
    throw new UserError(`cannot read the GGUF header of ${path}: ${(error as Error).message} (is the file complete?)`);
  }
  let needed = 0;
  for (const tensor of info.tensorInfo ?? []) {
    const start = Number(tensor.fileOffset);
    const [block, bytes] = GGML_TYPE_SIZES[tensor.ggmlType] ?? [1, 0];
    const elements = tensor.dimensions.reduce<number>((n, d) => n * Number(d), 1);
    needed = Math.max(needed, start + Math.ceil(elements / block) * bytes, start + 1);
  }
  if (needed > size) {
    throw new UserError(`the model file is incomplete (truncated): ${path} has ${size} bytes but its tensors need ${needed}; download or copy it again`);
  }
}

/** Whether the GGUF carries a (non-empty) chat template: chat prompts render with it. */
export function hasChatTemplate(model: LlamaModel): boolean {
  const template = (model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } } | undefined)?.tokenizer?.chat_template;
  return typeof template === "string" && template.trim() !== "";
}

/** KV cache bytes per cell from the GGUF's attention metadata (keys and values of every layer). */
export function kvBytesPerCell(model: LlamaModel, kvCacheType: "f16" | "f32"): number {
  const arch = (model.fileInfo.architectureMetadata ?? {}) as {
    block_count?: number;
    embedding_length?: number;
    attention?: { head_count?: number | number[]; head_count_kv?: number | number[]; key_length?: number; value_length?: number };
  };
  const first = (v: number | number[] | undefined): number | undefined => (Array.isArray(v) ? Math.max(...v) : v);
  const layers = arch.block_count ?? 1;
  const nEmbd = arch.embedding_length ?? model.embeddingVectorSize;
  const heads = first(arch.attention?.head_count) ?? 1;
  const kvHeads = first(arch.attention?.head_count_kv) ?? heads;
  const keyLength = arch.attention?.key_length ?? Math.ceil(nEmbd / heads);
  const valueLength = arch.attention?.value_length ?? keyLength;
  return layers * kvHeads * (keyLength + valueLength) * (kvCacheType === "f32" ? 4 : 2);
}
