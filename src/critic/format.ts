// The critic file format (version 1). Layout, all integers little-endian:
//
//   offset 0        8 bytes   magic "IGCRITIC"
//   offset 8        uint32    format version (1)
//   offset 12       uint32    header byte length H
//   offset 16       H bytes   UTF-8 JSON header (criticHeaderSchema), space-padded so the payload
//                             starts at a multiple of 8 bytes
//   offset 16 + H   float32[] payload (header.payloadFloats values):
//                               mean[inputDim], std[inputDim]   (only when header.normalization)
//                               then for each layer (hidden layers, then the 2-output head):
//                               W[out][in] row-major, then b[out]
//   end - 32        32 bytes  SHA-256 of every byte before it
//
// The payload's weight part is exactly the `weights` array the native CriticNet takes.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { CRITIC_ACTIVATIONS, type CriticActivation } from "../native.js";
import { decodeContainer, encodeContainer, type ContainerFormat } from "../util/container.js";
import { readUserFile, writeFileAtomic } from "../util/files.js";

export const CRITIC_MAGIC = "IGCRITIC";
export const CRITIC_FORMAT_VERSION = 1;
export { CRITIC_ACTIVATIONS, type CriticActivation };

// Limits shared with native/critic/critic.cpp, which refuses anything larger.
const MAX_INPUT_DIM = 1 << 24;
const MAX_LAYER_WIDTH = 1 << 16;
const MAX_HIDDEN_LAYERS = 16;

/** The model a critic was trained for; its hidden states are the critic's input. */
export const criticModelSchema = z.object({
  name: z.string().optional(),
  file: z.string().optional(),
  nEmbd: z.int().min(1).max(MAX_INPUT_DIM - 1),
  nVocab: z.int().min(1).optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex digits")
    .optional(),
});

/** Free-form training metadata; the listed keys are typed when present, others are kept as-is. */
export const criticTrainingSchema = z.looseObject({
  epochs: z.int().nonnegative().optional(),
  lr: z.number().optional(),
  seed: z.number().optional(),
  budget: z.number().optional(),
  createdAt: z.string().optional(),
  command: z.union([z.string(), z.array(z.string())]).optional(),
  metrics: z.record(z.string(), z.unknown()).optional(),
});

export const criticHeaderSchema = z
  .object({
    formatVersion: z.literal(CRITIC_FORMAT_VERSION),
    /** nEmbd + 1: the input row is [h, z]. */
    inputDim: z.int().min(2).max(MAX_INPUT_DIM),
    /** The model's hidden size nEmbd. */
    hiddenDim: z.int().min(1).max(MAX_INPUT_DIM - 1),
    /** Hidden layer widths; [] is a linear critic. */
    hidden: z.array(z.int().min(1).max(MAX_LAYER_WIDTH)).max(MAX_HIDDEN_LAYERS),
    activation: z.enum(CRITIC_ACTIVATIONS),
    outputs: z.tuple([z.literal("safety"), z.literal("value")]),
    normalization: z.boolean(),
    model: criticModelSchema,
    training: criticTrainingSchema.optional(),
    payloadFloats: z.int().nonnegative(),
  })
  .superRefine((h, ctx) => {
    if (h.inputDim !== h.hiddenDim + 1) {
      ctx.addIssue({ code: "custom", path: ["inputDim"], message: `must be hiddenDim + 1 = ${h.hiddenDim + 1}, got ${h.inputDim}` });
    }
    if (h.model.nEmbd !== h.hiddenDim) {
      ctx.addIssue({ code: "custom", path: ["model", "nEmbd"], message: `must equal hiddenDim (${h.hiddenDim}), got ${h.model.nEmbd}` });
    }
  });

export type CriticHeader = z.infer<typeof criticHeaderSchema>;
export type CriticModelInfo = z.infer<typeof criticModelSchema>;
export type CriticTrainingInfo = z.infer<typeof criticTrainingSchema>;

/** A critic in memory: its header plus the payload arrays. */
export interface CriticSpec {
  header: CriticHeader;
  /** Every layer's W (row-major [out][in]) then b, layer by layer, hidden layers first. */
  weights: Float32Array;
  /** Per-feature input normalisation, inputDim floats each; present iff header.normalization. */
  mean?: Float32Array;
  std?: Float32Array;
}

export interface CriticLayerView {
  in: number;
  out: number;
  /** out x in, row-major (a view into spec.weights). */
  W: Float32Array;
  /** out floats (a view into spec.weights). */
  b: Float32Array;
}

/** [inputDim, ...hidden, 2]. */
export function criticLayerSizes(header: Pick<CriticHeader, "inputDim" | "hidden">): number[] {
  return [header.inputDim, ...header.hidden, 2];
}

/** Number of floats in `weights` for these layer sizes. */
export function criticWeightCount(header: Pick<CriticHeader, "inputDim" | "hidden">): number {
  const sizes = criticLayerSizes(header);
  let n = 0;
  for (let l = 0; l + 1 < sizes.length; l++) n += sizes[l] * sizes[l + 1] + sizes[l + 1];
  return n;
}

/** Number of payload floats the header implies (normalisation vectors + weights). */
export function criticPayloadFloats(header: Pick<CriticHeader, "inputDim" | "hidden" | "normalization">): number {
  return (header.normalization ? 2 * header.inputDim : 0) + criticWeightCount(header);
}

/** Per-layer views of W and b into spec.weights (no copies). */
export function criticLayers(spec: Pick<CriticSpec, "header" | "weights">): CriticLayerView[] {
  const sizes = criticLayerSizes(spec.header);
  const layers: CriticLayerView[] = [];
  let offset = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inDim = sizes[l];
    const outDim = sizes[l + 1];
    const W = spec.weights.subarray(offset, offset + inDim * outDim);
    offset += inDim * outDim;
    const b = spec.weights.subarray(offset, offset + outDim);
    offset += outDim;
    layers.push({ in: inDim, out: outDim, W, b });
  }
  return layers;
}

/**
 * Checks that a spec is self-consistent (header schema, array lengths, std > 0, finite values)
 * and returns its header with payloadFloats recomputed. Throws UserError naming `source`.
 */
export function validateCriticSpec(spec: CriticSpec, source = "critic"): CriticHeader {
  const expectedPayload = criticPayloadFloats(spec.header);
  const parsed = criticHeaderSchema.safeParse({ ...spec.header, payloadFloats: expectedPayload });
  if (!parsed.success) throw new UserError(`${source}: header fails schema: ${describeZodError(parsed.error)}`);
  const header = parsed.data;
  const wantWeights = criticWeightCount(header);
  if (spec.weights.length !== wantWeights) {
    throw new UserError(
      `${source}: payload length mismatch: weights has ${spec.weights.length} floats, layer sizes ${criticLayerSizes(header).join("-")} need ${wantWeights}`,
    );
  }
  if (header.normalization) {
    if (!spec.mean || !spec.std || spec.mean.length !== header.inputDim || spec.std.length !== header.inputDim) {
      throw new UserError(`${source}: normalization is on but mean/std are missing or not inputDim (${header.inputDim}) floats long`);
    }
  } else if (spec.mean || spec.std) {
    throw new UserError(`${source}: mean/std are given but header.normalization is false`);
  }
  checkValues(spec, source);
  return header;
}

function checkValues(spec: CriticSpec, source: string): void {
  const firstBad = (a: Float32Array): number => a.findIndex((v) => !Number.isFinite(v));
  const badWeight = firstBad(spec.weights);
  if (badWeight >= 0) {
    throw new UserError(`${source}: weight ${badWeight} is ${spec.weights[badWeight]} (non-finite weights; did training diverge?)`);
  }
  if (spec.mean && spec.std) {
    const badMean = firstBad(spec.mean);
    if (badMean >= 0) throw new UserError(`${source}: normalization mean[${badMean}] is ${spec.mean[badMean]}`);
    const badStd = spec.std.findIndex((v) => !(v > 0) || !Number.isFinite(v));
    if (badStd >= 0) throw new UserError(`${source}: normalization std[${badStd}] is ${spec.std[badStd]}; it must be positive and finite`);
  }
}

const CRITIC_CONTAINER: ContainerFormat<CriticHeader> = {
  magic: CRITIC_MAGIC,
  version: CRITIC_FORMAT_VERSION,
  noun: "critic",
  schema: criticHeaderSchema,
  expectedFloats(header, fail) {
    const need = criticPayloadFloats(header);
    if (header.payloadFloats !== need) {
      fail(
        `payload length mismatch: header says ${header.payloadFloats} floats, layer sizes ${criticLayerSizes(header).join("-")}` +
          `${header.normalization ? " with normalization" : ""} need ${need}`,
      );
    }
    return need;
  },
};

/** Serialises a critic. The header's formatVersion and payloadFloats are filled in. */
export function encodeCritic(spec: CriticSpec): Buffer {
  const header = validateCriticSpec(spec, "cannot write critic");
  const payload = header.normalization ? [spec.mean!, spec.std!, spec.weights] : [spec.weights];
  return encodeContainer(CRITIC_CONTAINER, header, payload);
}

/**
 * Parses and verifies a critic file's bytes. Refuses with a one-line UserError: not a critic
 * file, unsupported version, truncated, corrupt (checksum mismatch), header fails schema, payload
 * length mismatch, non-finite values. `source` (a path) names the file in messages.
 */
export function decodeCritic(bytes: Uint8Array, source = "critic file"): CriticSpec {
  const { header, payload } = decodeContainer(bytes, CRITIC_CONTAINER, source);
  let offset = 0;
  const take = (count: number): Float32Array => payload.subarray(offset, (offset += count));
  const norm = header.normalization ? { mean: take(header.inputDim), std: take(header.inputDim) } : {};
  const spec: CriticSpec = { header, ...norm, weights: take(criticWeightCount(header)) };
  checkValues(spec, source);
  return spec;
}

/** Reads and verifies a critic file (see decodeCritic for what is refused). */
export function readCriticFile(path: string): CriticSpec {
  return decodeCritic(readUserFile(path, "critic file"), path);
}

/**
 * Writes a critic atomically: to a temporary file in the same directory, flushed to disk, then
 * renamed over `path`, so readers never see a half-written file.
 */
export function writeCriticFile(path: string, spec: CriticSpec): void {
  const bytes = encodeCritic(spec);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, bytes);
}

/**
 * Whether a latent critic applies to the loaded model, decided by what its input needs, never by a
 * file name: refused when the hidden size differs (its input would not even fit) or the vocabulary
 * does (another model family: its states mean nothing to the critic); a warning when the GGUF is
 * another file (sha256) of the same shape, e.g. a requantisation: its estimates are not known to
 * hold there. Fields the critic file does not record are not checked.
 */
export function assertCriticMatchesModel(
  critic: { header: Pick<CriticHeader, "hiddenDim" | "model"> },
  model: { nEmbd: number; nVocab?: number; name?: string; sha256?: string },
): string[] {
  const trained = critic.header.model;
  const trainedName = trained.name ? ` (${trained.name})` : "";
  const loadedName = model.name ? ` (${model.name})` : "";
  if (critic.header.hiddenDim !== model.nEmbd) {
    throw new UserError(
      `critic was trained for a model with hidden size ${critic.header.hiddenDim}${trainedName}, but the loaded model${loadedName} has hidden size ${model.nEmbd}; train a critic for this model`,
    );
  }
  if (trained.nVocab !== undefined && model.nVocab !== undefined && trained.nVocab !== model.nVocab) {
    throw new UserError(
      `critic was trained on the states of a model with a ${trained.nVocab}-token vocabulary${trainedName}, but the loaded model${loadedName} has ${model.nVocab} (another model); train a critic for this model`,
    );
  }
  const warnings: string[] = [];
  if (trained.sha256 && model.sha256 && trained.sha256.toLowerCase() !== model.sha256.toLowerCase()) {
    warnings.push(
      `critic was trained on another GGUF${trainedName} (sha256 ${trained.sha256.slice(0, 12)}…) of the same shape as the loaded model${loadedName} (sha256 ${model.sha256.slice(0, 12)}…): its estimates are not known to hold on this one`,
    );
  }
  return warnings;
}
