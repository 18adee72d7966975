// The latent probe file (JSON, version 1): a logistic regression on one model's hidden states.
//
//   {
//     "format": "inference-guard-probe", "formatVersion": 1,
//     "model": { "file": "stories260K.gguf", "path": "../shared/models/stories260K.gguf",
//                "sha256": "<64 hex>", "nEmbd": 64, "nVocab": 512 },
//     "pooling": "last" | "mean",          // last token's hidden state, or the mean over all tokens
//     "standardization": { "mean": [nEmbd], "std": [nEmbd] },
//     "weights": [nEmbd], "bias": b,       // P(unsafe) = sigmoid(w . (h - mean) / std + b)
//     "metrics": { "validation": {...}, "train": {...}, ... },
//     "training": { "data": ..., "epochs": ..., "seed": ..., ... }
//   }
//
// `model.path` is relative to the probe file's folder (or absolute); `sha256` pins the exact
// weights, since hidden states of another model (even one with the same nEmbd) mean nothing to it.
import { z } from "zod";
import { describeZodError } from "../../errors.js";
import { writeFileAtomic } from "../../util/files.js";
import { readVersionedJsonFile, roundFloat32 } from "../../util/versionedJson.js";
import { sha256HexSchema } from "../../util/fileHash.js";

export const PROBE_FORMAT = "inference-guard-probe";
export const PROBE_FORMAT_VERSION = 1;
export const PROBE_POOLINGS = ["last", "mean"] as const;
export type ProbePooling = (typeof PROBE_POOLINGS)[number];

const finite = z.number().refine(Number.isFinite, "must be a finite number");

/** Classification quality on one split (label 1 = unsafe). */
export const probeSplitMetricsSchema = z.looseObject({
  examples: z.int().nonnegative(),
  positives: z.int().nonnegative(),
  auc: z.number().min(0).max(1).nullable(),
  accuracy: z.number().min(0).max(1),
  logLoss: z.number().nonnegative(),
});
export type ProbeSplitMetrics = z.infer<typeof probeSplitMetricsSchema>;

export const probeFileSchema = z
  .object({
    format: z.literal(PROBE_FORMAT),
    formatVersion: z.literal(PROBE_FORMAT_VERSION),
    model: z.object({
      file: z.string().min(1),
      path: z.string().min(1),
      sha256: sha256HexSchema,
      nEmbd: z.int().min(1),
      nVocab: z.int().min(1).optional(),
    }),
    pooling: z.enum(PROBE_POOLINGS),
    standardization: z.object({
      mean: z.array(finite),
      std: z.array(finite.refine((s) => s > 0, "must be > 0")),
    }),
    weights: z.array(finite),
    bias: finite,
    metrics: z.looseObject({ validation: probeSplitMetricsSchema.optional(), train: probeSplitMetricsSchema.optional() }),
    training: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((p, ctx) => {
    const n = p.model.nEmbd;
    for (const [path, array] of [
      [["standardization", "mean"], p.standardization.mean],
      [["standardization", "std"], p.standardization.std],
      [["weights"], p.weights],
    ] as const) {
      if (array.length !== n) ctx.addIssue({ code: "custom", path: [...path], message: `must have model.nEmbd = ${n} values, got ${array.length}` });
    }
  });

export type ProbeFile = z.infer<typeof probeFileSchema>;

/** Reads and validates a probe file; every problem is a one-line UserError naming the file. */
export function readProbeFile(path: string): ProbeFile {
  return readVersionedJsonFile(path, { noun: "probe file", format: PROBE_FORMAT, version: PROBE_FORMAT_VERSION, madeBy: "inference-guard train-probe", schema: probeFileSchema });
}

/** Validates and writes a probe file atomically (numbers rounded to float32 precision). */
export function writeProbeFile(path: string, probe: ProbeFile): void {
  const parsed = probeFileSchema.safeParse(probe);
  if (!parsed.success) throw new Error(`internal: probe fails its schema: ${describeZodError(parsed.error)}`);
  const f32 = (xs: readonly number[]): number[] => xs.map(roundFloat32);
  const data: ProbeFile = {
    ...parsed.data,
    standardization: { mean: f32(parsed.data.standardization.mean), std: f32(parsed.data.standardization.std) },
    weights: f32(parsed.data.weights),
    bias: roundFloat32(parsed.data.bias),
  };
  writeFileAtomic(path, JSON.stringify(data, null, 1) + "\n");
}
