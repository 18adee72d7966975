// The text-classifier file format (version 1), the same layout as the critic's
// (src/critic/format.ts). All integers little-endian:
//
//   offset 0        8 bytes   magic "IGTXTCLF"
//   offset 8        uint32    format version (1)
//   offset 12       uint32    header byte length H
//   offset 16       H bytes   UTF-8 JSON header (classifierHeaderSchema), space-padded so the
//                             payload starts at a multiple of 8 bytes
//   offset 16 + H   float32[] payload: the weight of each hash bucket (header.features.buckets)
//   end - 32        32 bytes  SHA-256 of every byte before it
//
// The header says how texts become features (which must match this build's extractor, see
// native/classifier.cpp), the bias and calibration, and where the model came from: training
// data, seed, metrics, creation time and the command that made it.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { endianness } from "node:os";
import { dirname } from "node:path";
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { writeFileAtomic } from "../util/files.js";
import type { FeatureSettings } from "./classifierNative.js";

export const CLASSIFIER_MAGIC = "IGTXTCLF";
export const CLASSIFIER_FORMAT_VERSION = 1;

const PREFIX_BYTES = 16; // magic + version + header length
const CHECKSUM_BYTES = 32; // SHA-256
const PAYLOAD_ALIGN = 8;
const MAX_HEADER_BYTES = 16 << 20;
// Limits shared with native/classifier.cpp, which refuses anything outside them.
export const MIN_BUCKET_BITS = 4;
export const MAX_BUCKET_BITS = 26;

export const classifierFeaturesSchema = z
  .object({
    featureVersion: z.int().min(1),
    bucketBits: z.int().min(MIN_BUCKET_BITS).max(MAX_BUCKET_BITS),
    /** 2 ** bucketBits, spelled out for readers of the header. */
    buckets: z.int().min(1),
    wordNgrams: z.int().min(1).max(3),
    /** Lengths within "<word>", and the value of one occurrence relative to a word feature's 1. */
    charNgrams: z.object({ min: z.int().min(0).max(8), max: z.int().min(0).max(8), weight: z.number().min(1e-3).max(1e3) }),
    hashSeed: z.int().min(0).max(0xffffffff),
    /** Fixed by the extractor; recorded so the header documents itself. */
    lowercase: z.literal(true),
    normalization: z.literal("sqrt-count"),
  })
  .superRefine((f, ctx) => {
    if (f.buckets !== 2 ** f.bucketBits) {
      ctx.addIssue({ code: "custom", path: ["buckets"], message: `must be 2^bucketBits = ${2 ** f.bucketBits}, got ${f.buckets}` });
    }
    const { min, max } = f.charNgrams;
    if (!((min === 0 && max === 0) || (min >= 2 && max >= min))) {
      ctx.addIssue({ code: "custom", path: ["charNgrams"], message: `need 2 <= min <= max <= 8 (or both 0), got ${min}..${max}` });
    }
  });

/** Platt scaling: P(unsafe) = sigmoid(scale * logit + shift). */
export const classifierCalibrationSchema = z.object({
  method: z.enum(["none", "platt"]),
  scale: z.number().finite(),
  shift: z.number().finite(),
  /** Where it was fitted, e.g. "validation split of the training mix (1,234 rows)". */
  fittedOn: z.string().optional(),
});

/** One training source: how many rows and how much of the loss it carries. */
export const classifierSourceSchema = z.looseObject({
  name: z.string(),
  rows: z.int().nonnegative(),
  unsafe: z.int().nonnegative(),
  weight: z.number().nonnegative().optional(),
});

export const classifierTrainingSchema = z.looseObject({
  seed: z.int().optional(),
  epochs: z.int().nonnegative().optional(),
  lr: z.number().optional(),
  l2: z.number().optional(),
  batchSize: z.int().optional(),
  seconds: z.number().optional(),
  createdAt: z.string().optional(),
  command: z.union([z.string(), z.array(z.string())]).optional(),
  data: z.looseObject({ dir: z.string().optional(), sources: z.array(classifierSourceSchema).optional() }).optional(),
});

export const classifierHeaderSchema = z.object({
  formatVersion: z.literal(CLASSIFIER_FORMAT_VERSION),
  kind: z.literal("text-classifier"),
  model: z.literal("logistic-regression"),
  /** What a score of 1 means, e.g. "unsafe (harmful answer)". */
  positiveClass: z.string().optional(),
  features: classifierFeaturesSchema,
  bias: z.number().finite(),
  calibration: classifierCalibrationSchema,
  training: classifierTrainingSchema.optional(),
  /** Evaluation results by set name (free-form: AUC, accuracy, calibration ...). */
  metrics: z.record(z.string(), z.unknown()).optional(),
  payloadFloats: z.int().nonnegative(),
});

export type ClassifierHeader = z.infer<typeof classifierHeaderSchema>;
export type ClassifierFeatures = z.infer<typeof classifierFeaturesSchema>;
export type ClassifierTrainingInfo = z.infer<typeof classifierTrainingSchema>;

/** A classifier in memory: its header and one weight per bucket. */
export interface ClassifierSpec {
  header: ClassifierHeader;
  weights: Float32Array;
}

/** The header's feature settings in the form the native code takes. */
export function featureSettings(features: ClassifierFeatures): FeatureSettings {
  return {
    featureVersion: features.featureVersion,
    bucketBits: features.bucketBits,
    wordNgrams: features.wordNgrams,
    charMin: features.charNgrams.min,
    charMax: features.charNgrams.max,
    charWeight: features.charNgrams.weight,
    hashSeed: features.hashSeed,
  };
}

/** The header's `features` block for native-style settings. */
export function featuresHeader(settings: FeatureSettings): ClassifierFeatures {
  return {
    featureVersion: settings.featureVersion,
    bucketBits: settings.bucketBits,
    buckets: 2 ** settings.bucketBits,
    wordNgrams: settings.wordNgrams,
    charNgrams: { min: settings.charMin, max: settings.charMax, weight: settings.charWeight },
    hashSeed: settings.hashSeed,
    lowercase: true,
    normalization: "sqrt-count",
  };
}

/** Checks a spec (header schema, weight count, finite weights); returns the header with payloadFloats set. */
export function validateClassifierSpec(spec: ClassifierSpec, source = "classifier"): ClassifierHeader {
  const parsed = classifierHeaderSchema.safeParse({ ...spec.header, payloadFloats: spec.header.features?.buckets });
  if (!parsed.success) throw new UserError(`${source}: header fails schema: ${describeZodError(parsed.error)}`);
  const header = parsed.data;
  if (spec.weights.length !== header.features.buckets) {
    throw new UserError(`${source}: payload length mismatch: ${spec.weights.length} weights for ${header.features.buckets} buckets`);
  }
  checkWeights(spec.weights, source);
  return header;
}

function checkWeights(weights: Float32Array, source: string): void {
  const bad = weights.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new UserError(`${source}: weight ${bad} is ${weights[bad]} (non-finite weights; did training diverge?)`);
}

const littleEndianHost = endianness() === "LE";

function sha256(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/** Serialises a classifier; the header's payloadFloats is filled in. */
export function encodeClassifier(spec: ClassifierSpec): Buffer {
  const header = validateClassifierSpec(spec, "cannot write classifier");
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (PAYLOAD_ALIGN - ((PREFIX_BYTES + json.length) % PAYLOAD_ALIGN)) % PAYLOAD_ALIGN;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]); // JSON allows trailing spaces
  const out = Buffer.alloc(PREFIX_BYTES + json.length + 4 * header.payloadFloats + CHECKSUM_BYTES);
  out.write(CLASSIFIER_MAGIC, 0, "latin1");
  out.writeUInt32LE(CLASSIFIER_FORMAT_VERSION, 8);
  out.writeUInt32LE(json.length, 12);
  json.copy(out, PREFIX_BYTES);
  let offset = PREFIX_BYTES + json.length;
  if (littleEndianHost) {
    out.set(new Uint8Array(spec.weights.buffer, spec.weights.byteOffset, spec.weights.byteLength), offset);
  } else {
    for (let i = 0; i < spec.weights.length; i++) out.writeFloatLE(spec.weights[i]!, offset + 4 * i);
  }
  offset += 4 * header.payloadFloats;
  sha256(out.subarray(0, offset)).copy(out, offset);
  return out;
}

/**
 * Parses and verifies a classifier file's bytes. Refuses with a one-line UserError: not a
 * classifier file, unsupported version, truncated, corrupt (checksum mismatch), header fails
 * schema, payload length mismatch, non-finite weights. `source` names the file in messages.
 */
export function decodeClassifier(bytes: Uint8Array, source = "classifier file"): ClassifierSpec {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (what: string): never => {
    throw new UserError(`${source}: ${what}`);
  };
  if (buf.length < CLASSIFIER_MAGIC.length || buf.toString("latin1", 0, CLASSIFIER_MAGIC.length) !== CLASSIFIER_MAGIC) {
    fail(`not a text-classifier file (missing the "${CLASSIFIER_MAGIC}" magic bytes)`);
  }
  if (buf.length < PREFIX_BYTES) fail(`truncated: ${buf.length} bytes, shorter than the ${PREFIX_BYTES}-byte preamble`);
  const version = buf.readUInt32LE(8);
  if (version !== CLASSIFIER_FORMAT_VERSION) {
    fail(`unsupported classifier format version ${version} (this build reads version ${CLASSIFIER_FORMAT_VERSION})`);
  }
  const headerBytes = buf.readUInt32LE(12);
  if (headerBytes > MAX_HEADER_BYTES) fail(`corrupt: header length ${headerBytes} bytes is implausible`);
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
  const parsed = classifierHeaderSchema.safeParse(json);
  if (!parsed.success) {
    if (!checksumMatches()) fail("corrupt: checksum mismatch");
    fail(`header fails schema: ${describeZodError(parsed.error)}`);
  }
  const header = parsed.data!;
  if (header.payloadFloats !== header.features.buckets) {
    fail(`payload length mismatch: header says ${header.payloadFloats} floats but ${header.features.buckets} buckets`);
  }
  const expectedBytes = payloadStart + 4 * header.payloadFloats + CHECKSUM_BYTES;
  if (buf.length < expectedBytes) fail(`truncated: ${buf.length} bytes, expected ${expectedBytes} (payload length mismatch)`);
  if (buf.length > expectedBytes) {
    fail(`payload length mismatch: ${buf.length - expectedBytes} unexpected bytes after the payload (expected ${expectedBytes} bytes)`);
  }
  if (!checksumMatches()) fail("corrupt: checksum mismatch");
  // Copy: the payload may sit at any byte offset of the Buffer, and the caller owns the result.
  const weights = new Float32Array(header.payloadFloats);
  if (littleEndianHost) {
    new Uint8Array(weights.buffer).set(buf.subarray(payloadStart, payloadStart + 4 * header.payloadFloats));
  } else {
    for (let i = 0; i < weights.length; i++) weights[i] = buf.readFloatLE(payloadStart + 4 * i);
  }
  checkWeights(weights, source);
  return { header, weights };
}

/** Reads and verifies a classifier file (see decodeClassifier for what is refused). */
export function readClassifierFile(path: string): ClassifierSpec {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`classifier file not found: ${path}`, { cause: error });
    if (code === "EISDIR") throw new UserError(`classifier file is a directory: ${path}`, { cause: error });
    throw new UserError(`cannot read classifier file ${path}: ${(error as Error).message}`, { cause: error });
  }
  return decodeClassifier(bytes, path);
}

/** Writes a classifier atomically (temp file + fsync + rename), creating its directory. */
export function writeClassifierFile(path: string, spec: ClassifierSpec): void {
  const bytes = encodeClassifier(spec);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, bytes);
}
