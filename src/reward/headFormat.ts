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
import { resolve } from "node:path";
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { readUserFile, writeFileAtomic } from "../util/files.js";

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
      sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits"),
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
  const file = resolve(path);
  const text = readUserFile(file, "reward head file", "utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UserError(`reward head file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  const header = json as { format?: unknown; formatVersion?: unknown } | null;
  if (typeof header !== "object" || header === null || header.format !== HEAD_FORMAT) {
    throw new UserError(`${file} is not a reward head file (expected "format": "${HEAD_FORMAT}"; make one with \`inference-guard train-reward\`)`);
  }
  if (header.formatVersion !== HEAD_FORMAT_VERSION) {
    throw new UserError(`reward head file ${file} has format version ${String(header.formatVersion)}; this inference-guard reads version ${HEAD_FORMAT_VERSION}`);
  }
  const parsed = headFileSchema.safeParse(json);
  if (!parsed.success) throw new UserError(`invalid reward head file ${file}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

export function writeHeadFile(path: string, head: HeadFile): void {
  const parsed = headFileSchema.safeParse(head);
  if (!parsed.success) throw new Error(`internal: reward head fails its schema: ${describeZodError(parsed.error)}`);
  const f32 = (x: number): number => Number(Math.fround(x).toPrecision(9));
  writeFileAtomic(path, JSON.stringify({ ...parsed.data, weights: parsed.data.weights.map(f32), bias: f32(parsed.data.bias) }, null, 1) + "\n");
}
