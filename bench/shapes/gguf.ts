// A minimal GGUF v3 reader (metadata key/values only, kept as raw bytes so they can be copied into
// another file with their exact types) and a streaming writer (header, key/values, tensor infos,
// aligned tensor data). Enough to write random-weight models at real shapes (see shapes.ts); not a
// general GGUF library. Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";

export const GGUF_MAGIC = "GGUF";
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** GGUF metadata value types (gguf_type). */
export enum GgufType {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
}

/** Bytes of one scalar of each fixed-size GGUF type. */
const SCALAR_BYTES: Partial<Record<GgufType, number>> = {
  [GgufType.U8]: 1, [GgufType.I8]: 1, [GgufType.BOOL]: 1,
  [GgufType.U16]: 2, [GgufType.I16]: 2,
  [GgufType.U32]: 4, [GgufType.I32]: 4, [GgufType.F32]: 4,
  [GgufType.U64]: 8, [GgufType.I64]: 8, [GgufType.F64]: 8,
};

/** ggml tensor types this writer can lay out, with [elements per block, bytes per block]. */
export const GGML_TYPES = {
  f32: { id: 0, block: 1, bytes: 4 },
  f16: { id: 1, block: 1, bytes: 2 },
  q4_0: { id: 2, block: 32, bytes: 18 },
  q8_0: { id: 8, block: 32, bytes: 34 },
} as const;
export type GgmlTypeName = keyof typeof GGML_TYPES;

/** One metadata entry: its key, value type, and the value's encoded bytes (after the type field). */
export interface GgufKv {
  key: string;
  type: GgufType;
  raw: Buffer;
}

export interface TensorSpec {
  name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension. */
  dims: readonly number[];
  type: GgmlTypeName;
}

export function tensorBytes(t: Pick<TensorSpec, "dims" | "type">): number {
  const { block, bytes } = GGML_TYPES[t.type];
  const elements = t.dims.reduce((n, d) => n * d, 1);
  if (t.dims[0] % block !== 0) throw new Error(`a ${t.type} tensor needs dims[0] (${t.dims[0]}) to be a multiple of ${block}`);
  return (elements / block) * bytes;
}

// ---- encoding ----

function encodeString(s: string): Buffer {
  const text = Buffer.from(s, "utf8");
  const out = Buffer.alloc(8 + text.length);
  out.writeBigUInt64LE(BigInt(text.length), 0);
  text.copy(out, 8);
  return out;
}

export const kv = {
  u32: (key: string, value: number): GgufKv => {
    const raw = Buffer.alloc(4);
    raw.writeUInt32LE(value);
    return { key, type: GgufType.U32, raw };
  },
  f32: (key: string, value: number): GgufKv => {
    const raw = Buffer.alloc(4);
    raw.writeFloatLE(value);
    return { key, type: GgufType.F32, raw };
  },
  string: (key: string, value: string): GgufKv => ({ key, type: GgufType.STRING, raw: encodeString(value) }),
};

function encodeKv(entry: GgufKv): Buffer {
  const type = Buffer.alloc(4);
  type.writeUInt32LE(entry.type);
  return Buffer.concat([encodeString(entry.key), type, entry.raw]);
}

function encodeTensorInfo(t: TensorSpec, offset: number): Buffer {
  const out = Buffer.alloc(4 + 8 * t.dims.length + 4 + 8);
  let p = out.writeUInt32LE(t.dims.length, 0);
  for (const d of t.dims) p = out.writeBigUInt64LE(BigInt(d), p);
  p = out.writeUInt32LE(GGML_TYPES[t.type].id, p);
  out.writeBigUInt64LE(BigInt(offset), p);
  return Buffer.concat([encodeString(t.name), out]);
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

export interface GgufLayout {
  /** Everything before the tensor data, padded to the alignment. */
  header: Buffer;
  /** Offset of each tensor's data, relative to the start of the data section. */
  offsets: number[];
  /** Size of the whole file. */
  totalBytes: number;
}

/** The file's header and where every tensor's data goes (each tensor starts aligned to 32 bytes). */
export function ggufLayout(entries: readonly GgufKv[], tensors: readonly TensorSpec[]): GgufLayout {
  const keys = new Set<string>();
  for (const e of entries) {
    if (keys.has(e.key)) throw new Error(`duplicate GGUF key ${e.key}`);
    keys.add(e.key);
  }
  const offsets: number[] = [];
  let data = 0;
  for (const t of tensors) {
    offsets.push(data);
    data = alignUp(data + tensorBytes(t), GGUF_ALIGNMENT);
  }
  const fixed = Buffer.alloc(24);
  fixed.write(GGUF_MAGIC, 0, "latin1");
  fixed.writeUInt32LE(GGUF_VERSION, 4);
  fixed.writeBigUInt64LE(BigInt(tensors.length), 8);
  fixed.writeBigUInt64LE(BigInt(entries.length), 16);
  const parts = [fixed, ...entries.map(encodeKv), ...tensors.map((t, i) => encodeTensorInfo(t, offsets[i]))];
  const unpadded = parts.reduce((n, b) => n + b.length, 0);
  const header = Buffer.alloc(alignUp(unpadded, GGUF_ALIGNMENT));
  Buffer.concat(parts).copy(header);
  // The last tensor is not padded: the file ends where its data ends.
  const last = tensors.length - 1;
  const totalBytes = header.length + (last < 0 ? 0 : offsets[last] + tensorBytes(tensors[last]));
  return { header, offsets, totalBytes };
}

/**
 * Writes the GGUF to an open file descriptor: the header, then each tensor's data as `data(i)`
 * yields it (any chunking; it must yield exactly tensorBytes of tensor i), padded to the alignment.
 */
export function writeGguf(fd: number, layout: GgufLayout, tensors: readonly TensorSpec[], data: (index: number) => Iterable<Uint8Array>): void {
  writeAll(fd, layout.header);
  let written = layout.header.length;
  tensors.forEach((t, i) => {
    const start = layout.header.length + layout.offsets[i];
    if (written < start) {
      writeAll(fd, new Uint8Array(start - written));
      written = start;
    }
    for (const chunk of data(i)) {
      writeAll(fd, chunk);
      written += chunk.length;
    }
    if (written !== start + tensorBytes(t)) throw new Error(`tensor ${t.name}: wrote ${written - start} bytes, expected ${tensorBytes(t)}`);
  });
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

// ---- reading ----

/** Reads a file's bytes on demand (the key/values of a GGUF are at its start; tensor data is never read). */
class FileReader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  private readonly size: number;

  constructor(private readonly fd: number, private readonly path: string) {
    this.size = fstatSync(fd).size;
  }

  take(n: number): Buffer {
    if (this.pos + n > this.size) throw new Error(`${this.path}: unexpected end of file in the GGUF header`);
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      const want = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
      const fresh = Buffer.alloc(want);
      readSync(this.fd, fresh, 0, want, this.pos);
      this.buf = fresh;
      this.bufStart = this.pos;
    }
    const from = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(from, from + n);
  }

  u32(): number {
    return this.take(4).readUInt32LE(0);
  }

  u64(): number {
    const v = this.take(8).readBigUInt64LE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${this.path}: a length in the GGUF header is too large (${v})`);
    return Number(v);
  }

  string(): string {
    return this.take(this.u64()).toString("utf8");
  }
}

/** Moves the reader past one value of `type`. */
function skipValue(r: FileReader, type: GgufType): void {
  if (type === GgufType.STRING) {
    r.take(r.u64());
    return;
  }
  if (type === GgufType.ARRAY) {
    const itemType = r.u32() as GgufType;
    const count = r.u64();
    const fixed = SCALAR_BYTES[itemType];
    if (fixed !== undefined) r.take(fixed * count);
    else for (let i = 0; i < count; i++) skipValue(r, itemType);
    return;
  }
  const fixed = SCALAR_BYTES[type];
  if (fixed === undefined) throw new Error(`unknown GGUF value type ${type}`);
  r.take(fixed);
}

export interface GgufHeader {
  version: number;
  tensorCount: number;
  kv: GgufKv[];
}

/** The metadata key/values of a GGUF file (v2 or v3), each with its raw encoded value. */
export function readGgufKv(path: string): GgufHeader {
  const fd = openSync(path, "r");
  try {
    const r = new FileReader(fd, path);
    if (r.take(4).toString("latin1") !== GGUF_MAGIC) throw new Error(`not a GGUF file: ${path}`);
    const version = r.u32();
    if (version < 2 || version > 3) throw new Error(`${path}: GGUF version ${version} is not supported`);
    const tensorCount = r.u64();
    const count = r.u64();
    const entries: GgufKv[] = [];
    for (let i = 0; i < count; i++) {
      const key = r.string();
      const type = r.u32() as GgufType;
      const start = r.pos;
      skipValue(r, type);
      const end = r.pos;
      r.pos = start;
      entries.push({ key, type, raw: Buffer.from(r.take(end - start)) });
    }
    return { version, tensorCount, kv: entries };
  } finally {
    closeSync(fd);
  }
}

/** A scalar value of a raw entry (numbers, bools, strings); undefined for arrays. */
export function kvScalar(entry: GgufKv): number | string | boolean | undefined {
  const b = entry.raw;
  switch (entry.type) {
    case GgufType.U8: return b.readUInt8(0);
    case GgufType.I8: return b.readInt8(0);
    case GgufType.U16: return b.readUInt16LE(0);
    case GgufType.I16: return b.readInt16LE(0);
    case GgufType.U32: return b.readUInt32LE(0);
    case GgufType.I32: return b.readInt32LE(0);
    case GgufType.F32: return b.readFloatLE(0);
    case GgufType.BOOL: return b.readUInt8(0) !== 0;
    case GgufType.U64: return Number(b.readBigUInt64LE(0));
    case GgufType.I64: return Number(b.readBigInt64LE(0));
    case GgufType.F64: return b.readDoubleLE(0);
    case GgufType.STRING: return b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString("utf8");
    default: return undefined;
  }
}

/** Number of items of an array entry. */
export function kvArrayLength(entry: GgufKv): number {
  if (entry.type !== GgufType.ARRAY) throw new Error(`${entry.key} is not an array`);
  return Number(entry.raw.readBigUInt64LE(4));
}
