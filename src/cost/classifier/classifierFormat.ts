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
// native/classifier/classifier.cpp), the bias and calibration, and where the model came from: training
// data, seed, metrics, creation time and the command that made it.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { UserError, describeZodError } from "../../errors.js";
import { decodeContainer, encodeContainer, type ContainerFormat } from "../../util/container.js";
import { readUserFile, writeFileAtomic } from "../../util/files.js";
import type { FeatureSettings } from "./classifierNative.js";

export const CLASSIFIER_MAGIC = "IGTXTCLF";
export const CLASSIFIER_FORMAT_VERSION = 1;

// Limits shared with native/classifier/classifier.cpp, which refuses anything outside them.
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

const CLASSIFIER_CONTAINER: ContainerFormat<ClassifierHeader> = {
  magic: CLASSIFIER_MAGIC,
  version: CLASSIFIER_FORMAT_VERSION,
  noun: "text-classifier",
  schema: classifierHeaderSchema,
  expectedFloats(header, fail) {
    if (header.payloadFloats !== header.features.buckets) {
      fail(`payload length mismatch: header says ${header.payloadFloats} floats but ${header.features.buckets} buckets`);
    }
    return header.payloadFloats;
  },
};

/** Serialises a classifier; the header's payloadFloats is filled in. */
export function encodeClassifier(spec: ClassifierSpec): Buffer {
  const header = validateClassifierSpec(spec, "cannot write classifier");
  return encodeContainer(CLASSIFIER_CONTAINER, header, [spec.weights]);
}

/**
 * Parses and verifies a classifier file's bytes. Refuses with a one-line UserError: not a
 * classifier file, unsupported version, truncated, corrupt (checksum mismatch), header fails
 * schema, payload length mismatch, non-finite weights. `source` names the file in messages.
 */
export function decodeClassifier(bytes: Uint8Array, source = "classifier file"): ClassifierSpec {
  const { header, payload: weights } = decodeContainer(bytes, CLASSIFIER_CONTAINER, source);
  checkWeights(weights, source);
  return { header, weights };
}

/** Reads and verifies a classifier file (see decodeClassifier for what is refused). */
export function readClassifierFile(path: string): ClassifierSpec {
  return decodeClassifier(readUserFile(path, "classifier file"), path);
}

/** Writes a classifier atomically (temp file + fsync + rename), creating its directory. */
export function writeClassifierFile(path: string, spec: ClassifierSpec): void {
  const bytes = encodeClassifier(spec);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, bytes);
}
