// The reward head file (JSON, version 1): a decoder reward model as a GGUF backbone plus one vector
// on its last token's final hidden state (the shape of Skywork-Reward's `score.weight`).
//
//   {
//     "format": "inference-guard-reward-head", "formatVersion": 1,
//     "backbone": { "file": "tiny-assistant.gguf", "path": "testbed/tiny-assistant.gguf",
//                   "sha256": "<64 hex>", "size": 21313536, "nEmbd": 256 },
//     "render": "chat",            // request + answer rendered with the backbone's chat template
//     "weights": [nEmbd], "bias": b,   // reward = w . h + b (a logit: P(helpful) = sigmoid of it)
//     "metrics": {...}, "training": {...}
//   }
//
// `backbone.path` is relative to the head file's folder (or absolute); `sha256` pins the exact
// weights (hidden states of another model mean nothing to the head). A user's own reward model:
// convert its backbone to GGUF and write its score vector here (docs/reward-models.md).
import { z } from "zod";
import { describeZodError } from "../errors.js";
import { writeFileAtomic } from "../util/files.js";
import { readVersionedJsonFile, roundFloat32 } from "../util/versionedJson.js";
import { sha256HexSchema } from "../util/fileHash.js";

export const HEAD_FORMAT = "inference-guard-reward-head";
export const HEAD_FORMAT_VERSION = 1;

const finite = z.number().refine(Number.isFinite, "must be a finite number");

export const headFileSchema = z
  .object({
    format: z.literal(HEAD_FORMAT),
    formatVersion: z.literal(HEAD_FORMAT_VERSION),
    backbone: z.object({
      file: z.string().min(1),
      path: z.string().min(1),
      sha256: sha256HexSchema,
      size: z.int().positive(),
      nEmbd: z.int().min(1),
    }),
    render: z.literal("chat"),
    weights: z.array(finite),
    bias: finite,
    metrics: z.record(z.string(), z.unknown()).optional(),
    training: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((h, ctx) => {
    if (h.weights.length !== h.backbone.nEmbd) {
      ctx.addIssue({ code: "custom", path: ["weights"], message: `must have backbone.nEmbd = ${h.backbone.nEmbd} values, got ${h.weights.length}` });
    }
  });

export type HeadFile = z.infer<typeof headFileSchema>;

/** Reads and validates a head file; every problem is a one-line UserError naming the file. */
export function readHeadFile(path: string): HeadFile {
  return readVersionedJsonFile(path, { noun: "reward head file", format: HEAD_FORMAT, version: HEAD_FORMAT_VERSION, madeBy: "inference-guard train-reward", schema: headFileSchema });
}

export function writeHeadFile(path: string, head: HeadFile): void {
  const parsed = headFileSchema.safeParse(head);
  if (!parsed.success) throw new Error(`internal: reward head fails its schema: ${describeZodError(parsed.error)}`);
  writeFileAtomic(path, JSON.stringify({ ...parsed.data, weights: parsed.data.weights.map(roundFloat32), bias: roundFloat32(parsed.data.bias) }, null, 1) + "\n");
}
