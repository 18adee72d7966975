// A queued row: one BullMQ job holding exactly the BatchJob that `batch` would have parsed from the
// same input line (settings already merged with push's defaults and validated), plus the run-wide
// things batch takes from its own flags: the base seed and chat rendering. A worker answers it with
// batch's own answerJob, so "same row and seed, same answer as batch" holds by construction.
import { z } from "zod";
import { batchIdSchema, idKey, type BatchJob } from "../batch/input.js";
import { describeZodError } from "../errors.js";

/** BullMQ job name of every row. */
export const ROW_JOB_NAME = "row";
/** Version of the job data layout, so a worker refuses rows written by an incompatible push. */
export const ROW_FORMAT = 1;

export interface RowData {
  format: typeof ROW_FORMAT;
  job: BatchJob;
  /** Base seed: a row without its own seed is answered with seedFor(seed, key), as batch --seed does. */
  seed: number;
  /** Render string prompts with the model's chat template (batch --chat). */
  chat: boolean;
}

const chatMessageSchema = z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() }).strict();

const rowDataSchema = z
  .object({
    format: z.literal(ROW_FORMAT, `this row was queued by another version of inference-guard (row format ${ROW_FORMAT} expected)`),
    job: z
      .object({
        line: z.int().min(1),
        id: batchIdSchema,
        key: z.string(),
        input: z.union([z.string(), z.array(chatMessageSchema).min(1)]),
        settings: z.object({ costName: z.string().optional(), options: z.record(z.string(), z.unknown()) }).strict(),
      })
      .strict()
      .refine((job) => job.key === idKey(job.id), { message: "key does not match id", path: ["key"] }),
    seed: z.int().min(0),
    chat: z.boolean(),
  })
  .strict();

/**
 * Checks a job's data as read back from Redis (another process, maybe another version, wrote it).
 * The search options themselves are checked by guard.generate, as for a batch line.
 */
export function parseRowData(data: unknown): RowData | { error: string } {
  const parsed = rowDataSchema.safeParse(data);
  if (!parsed.success) return { error: `malformed queued row: ${describeZodError(parsed.error)}` };
  return parsed.data as RowData;
}

/**
 * The BullMQ job id of a row: its id key (which tells 1 from "1"), percent-encoded, since BullMQ
 * refuses ids that contain ':' or look like integers. The same row always gets the same job id,
 * which is what makes pushing idempotent.
 */
export function jobIdOf(key: string): string {
  return encodeURIComponent(key);
}

export function keyOfJobId(jobId: string): string {
  return decodeURIComponent(jobId);
}

/** The row id a key stands for (see idKey in src/batch/input.ts: `#12` is 12, `"a` is "a"). */
export function idOfKey(key: string): string | number {
  return key.startsWith("#") ? Number(key.slice(1)) : key.slice(1);
}
