// Training checkpoints: everything needed to continue a critic training run bit-for-bit after a
// kill: weights, Adam moments and step, the last completed epoch, the next epoch's shuffle seed,
// and the metrics so far. A fingerprint of the run's configuration and data guards against
// resuming a different run. Written atomically after every epoch (JSON, float arrays in base64:
// exact).
import { readFileSync } from "node:fs";
import { z } from "zod";
import { UserError, briefZodError } from "../errors.js";
import { writeFileAtomic } from "../util/files.js";
import { sha256HexSchema } from "../util/fileHash.js";

export const CHECKPOINT_FORMAT_VERSION = 1;

export const epochMetricsSchema = z.looseObject({
  epoch: z.int().min(1),
  trainLoss: z.number(),
  valLoss: z.number().nullable(),
  valAuc: z.number().nullable(),
  valEce: z.number().nullable(),
  valBrier: z.number().nullable(),
});
export type EpochMetrics = z.infer<typeof epochMetricsSchema>;

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "expected base64");

const checkpointSchema = z
  .object({
    formatVersion: z.literal(CHECKPOINT_FORMAT_VERSION),
    /** sha256 of the training configuration + data (see trainCritic). */
    fingerprint: sha256HexSchema,
    /** Last completed epoch (1-based). */
    epoch: z.int().min(1),
    /** Shuffle seed of the next epoch, hex (derived from the seed and the epoch; kept to check). */
    nextShuffleSeed: z.string().regex(/^[0-9a-f]{16}$/),
    weights: base64,
    adam: z.object({ m: base64, v: base64, step: z.int().nonnegative() }).strict(),
    history: z.array(epochMetricsSchema),
  })
  .strict();

export interface Checkpoint {
  fingerprint: string;
  epoch: number;
  nextShuffleSeed: string;
  weights: Float32Array;
  adam: { m: Float32Array; v: Float32Array; step: number };
  history: EpochMetrics[];
}

function toBase64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

function fromBase64(s: string, what: string, path: string): Float32Array {
  const bytes = Buffer.from(s, "base64");
  if (bytes.length % 4 !== 0) throw new UserError(`checkpoint ${path}: ${what} is not a whole number of floats`);
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function writeCheckpoint(path: string, c: Checkpoint): void {
  const json = {
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    fingerprint: c.fingerprint,
    epoch: c.epoch,
    nextShuffleSeed: c.nextShuffleSeed,
    weights: toBase64(c.weights),
    adam: { m: toBase64(c.adam.m), v: toBase64(c.adam.v), step: c.adam.step },
    history: c.history,
  };
  writeFileAtomic(path, JSON.stringify(json) + "\n");
}

/** Reads a checkpoint; undefined when there is none. A damaged one is a UserError. */
export function readCheckpoint(path: string): Checkpoint | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UserError(`cannot read checkpoint ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UserError(`checkpoint ${path} is not valid JSON (delete it to start over)`);
  }
  const parsed = checkpointSchema.safeParse(json);
  if (!parsed.success) throw new UserError(`checkpoint ${path} is invalid (delete it to start over): ${briefZodError(parsed.error)}`);
  const c = parsed.data;
  return {
    fingerprint: c.fingerprint,
    epoch: c.epoch,
    nextShuffleSeed: c.nextShuffleSeed,
    weights: fromBase64(c.weights, "weights", path),
    adam: { m: fromBase64(c.adam.m, "adam.m", path), v: fromBase64(c.adam.v, "adam.v", path), step: c.adam.step },
    history: c.history,
  };
}
