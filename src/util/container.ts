// The binary container our files share (critic, text classifier, rollouts). Little-endian:
//
//   offset 0        8 bytes   magic (format-specific, e.g. "IGCRITIC")
//   offset 8        uint32    format version
//   offset 12       uint32    header byte length H
//   offset 16       H bytes   UTF-8 JSON header (zod-validated by the format), space-padded so the
//                             payload starts at a multiple of 8 bytes
//   offset 16 + H   float32[] payload (as many floats as the format's header implies)
//   end - 32        32 bytes  SHA-256 of every byte before it
import { createHash } from "node:crypto";
import { endianness } from "node:os";
import type { z } from "zod";
import { UserError, describeZodError } from "../errors.js";

const PREFIX_BYTES = 16; // magic + version + header length
const CHECKSUM_BYTES = 32; // SHA-256
const PAYLOAD_ALIGN = 8;
const MAX_HEADER_BYTES = 16 << 20;
const littleEndianHost = endianness() === "LE";

export interface ContainerFormat<H> {
  magic: string;
  version: number;
  /** The noun in messages: "critic" gives "not a critic file", "unsupported critic format version". */
  noun: string;
  schema: z.ZodType<H>;
  /** The floats this header's payload must hold; calls `fail` when the header contradicts itself. */
  expectedFloats(header: H, fail: (what: string) => never): number;
  /** Largest header accepted (default 16 MiB): a bigger length field means a damaged file. */
  maxHeaderBytes?: number;
  /** How a schema failure reads in messages (default: every issue). */
  describeSchemaError?: (error: z.ZodError) => string;
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/** Serialises a (validated) header and the payload arrays, in order, with the checksum trailer. */
export function encodeContainer(format: { magic: string; version: number }, header: object, payload: readonly Float32Array[]): Buffer {
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (PAYLOAD_ALIGN - ((PREFIX_BYTES + json.length) % PAYLOAD_ALIGN)) % PAYLOAD_ALIGN;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]); // JSON allows trailing spaces
  const payloadBytes = payload.reduce((n, values) => n + values.byteLength, 0);
  const out = Buffer.alloc(PREFIX_BYTES + json.length + payloadBytes + CHECKSUM_BYTES);
  out.write(format.magic, 0, "latin1");
  out.writeUInt32LE(format.version, 8);
  out.writeUInt32LE(json.length, 12);
  json.copy(out, PREFIX_BYTES);
  let offset = PREFIX_BYTES + json.length;
  for (const values of payload) {
    if (littleEndianHost) out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), offset);
    else for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i], offset + 4 * i);
    offset += values.byteLength;
  }
  sha256(out.subarray(0, offset)).copy(out, offset);
  return out;
}

/**
 * Parses and verifies a container's bytes; refuses with a one-line UserError naming `source`:
 * wrong magic, unsupported version, truncated, corrupt (checksum mismatch), header not JSON or
 * failing the schema, payload length mismatch. Returns the header and a copy of the payload.
 */
export function decodeContainer<H>(
  bytes: Uint8Array,
  format: ContainerFormat<H>,
  source: string,
): { header: H; payload: Float32Array } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (what: string): never => {
    throw new UserError(`${source}: ${what}`);
  };
  const { magic, version: wanted, noun } = format;
  if (buf.length < magic.length || buf.toString("latin1", 0, magic.length) !== magic) {
    fail(`not a ${noun} file (missing the "${magic}" magic bytes)`);
  }
  if (buf.length < PREFIX_BYTES) fail(`truncated: ${buf.length} bytes, shorter than the ${PREFIX_BYTES}-byte preamble`);
  const version = buf.readUInt32LE(8);
  if (version !== wanted) fail(`unsupported ${noun} format version ${version} (this build reads version ${wanted})`);
  const headerBytes = buf.readUInt32LE(12);
  if (headerBytes > (format.maxHeaderBytes ?? MAX_HEADER_BYTES)) fail(`corrupt: header length ${headerBytes} bytes is implausible`);
  const payloadStart = PREFIX_BYTES + headerBytes;
  if (buf.length < payloadStart + CHECKSUM_BYTES) {
    fail(`truncated: ${buf.length} bytes, but the header alone needs ${payloadStart + CHECKSUM_BYTES}`);
  }

  // A header that does not parse is either damage (checksum fails) or a writer bug (it passes).
  const checksumMatches = (): boolean => {
    const end = buf.length - CHECKSUM_BYTES;
    return sha256(buf.subarray(0, end)).equals(buf.subarray(end));
  };
  let json: unknown;
  try {
    json = JSON.parse(buf.toString("utf8", PREFIX_BYTES, payloadStart));
  } catch (error) {
    if (!checksumMatches()) fail("corrupt: checksum mismatch (the header is unreadable)");
    fail(`header is not valid JSON (${(error as Error).message})`);
  }
  const parsed = format.schema.safeParse(json);
  if (!parsed.success) {
    if (!checksumMatches()) fail("corrupt: checksum mismatch");
    fail(`header fails schema: ${(format.describeSchemaError ?? describeZodError)(parsed.error)}`);
  }
  const header = parsed.data as H;

  const floats = format.expectedFloats(header, fail);
  const expectedBytes = payloadStart + 4 * floats + CHECKSUM_BYTES;
  if (buf.length < expectedBytes) fail(`truncated: ${buf.length} bytes, expected ${expectedBytes} (payload length mismatch)`);
  if (buf.length > expectedBytes) {
    fail(`payload length mismatch: ${buf.length - expectedBytes} unexpected bytes after the payload (expected ${expectedBytes} bytes)`);
  }
  if (!checksumMatches()) fail("corrupt: checksum mismatch");
  // Copy: the payload may sit at any byte offset of the Buffer, and the caller owns the result.
  const payload = new Float32Array(floats);
  if (littleEndianHost) new Uint8Array(payload.buffer).set(buf.subarray(payloadStart, payloadStart + 4 * floats));
  else for (let i = 0; i < floats; i++) payload[i] = buf.readFloatLE(payloadStart + 4 * i);
  return { header, payload };
}
