// The rollout file (version 1): base-model continuations of training prompts, with the hidden
// state and cumulative cost at every block boundary, the critic's training data. Layout
// (integers little-endian):
//
//   offset 0        8 bytes   magic "IGROLOUT"
//   offset 8        uint32    format version (1)
//   offset 12       uint32    header byte length H
//   offset 16       H bytes   UTF-8 JSON header (rolloutHeaderSchema), space-padded to a multiple of 8
//   offset 16 + H   float32[] hiddenRows x model.nEmbd hidden states, in rollout order, each rollout's
//                             states in block order
//   end - 32        32 bytes  SHA-256 of every byte before it
//
// That is the container of the critic and classifier files (src/util/container.ts).
//
// The header names the model (file name, SHA-256, nEmbd) so training refuses rollouts sampled from
// another model, and keeps every sampling setting so the data can be reproduced.
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { UserError, briefZodError } from "../errors.js";
import { decodeContainer, encodeContainer, type ContainerFormat } from "../util/container.js";
import { readUserFile, writeFileAtomic } from "../util/files.js";
import { sha256HexSchema } from "../util/fileHash.js";

export const ROLLOUT_MAGIC = "IGROLOUT";
export const ROLLOUT_FORMAT_VERSION = 1;

/** One continuation of one prompt. States are the block boundaries, in order. */
export const rolloutSchema = z
  .object({
    /** Index into the header's prompts. */
    prompt: z.int().nonnegative(),
    /** Which of the prompt's samples this is (0-based). */
    sample: z.int().nonnegative(),
    /** "sample": plain sampling from the base model. */
    source: z.literal("sample"),
    /** Answer tokens written. */
    tokens: z.int().nonnegative(),
    /** The answer's token ids (tokens of them), for inspection and for checking the states. */
    tokenIds: z.array(z.int().nonnegative()),
    /** Sum of the clipped step costs of its blocks: the cost the guard's safety state tracks. */
    cost: z.number().nonnegative(),
    /** Cost of the whole answer text (<= cost). */
    textCost: z.number().nonnegative(),
    /** Mean token log-probability under the base model at temperature 1 (0 for an empty answer). */
    reward: z.number().finite(),
    stop: z.enum(["eog", "max-tokens"]),
    /** Per recorded state: [answer tokens so far, cumulative cost so far]. */
    states: z.array(z.tuple([z.int().nonnegative(), z.number().nonnegative()])),
  })
  .strict();

export const rolloutHeaderSchema = z
  .object({
    formatVersion: z.literal(ROLLOUT_FORMAT_VERSION),
    model: z.object({ file: z.string().min(1), sha256: sha256HexSchema, nEmbd: z.int().min(1), nVocab: z.int().min(1) }).strict(),
    cost: z.object({ spec: z.string().min(1), name: z.string().min(1) }).strict(),
    /** The reward each rollout's `reward` is under (absent in files made before rewards: logprob). */
    reward: z.string().min(1).optional(),
    /** The budget the rollouts were sampled for (labels may be recomputed for another: costs are stored). */
    budget: z.number().positive(),
    /** W: tokens per block; a state is recorded after every block (and at the end). */
    width: z.int().min(1),
    maxTokens: z.int().min(1),
    rolloutsPerPrompt: z.int().min(1),
    temperature: z.number().min(0),
    seed: z.int().nonnegative(),
    prompts: z.array(z.string()).min(1),
    /** The prompts were rendered with the chat template (absent: completion prompts). */
    chat: z.boolean().optional(),
    rollouts: z.array(rolloutSchema),
    /** Total states over all rollouts: the number of hidden rows in the payload. */
    hiddenRows: z.int().nonnegative(),
    createdAt: z.string(),
  })
  .strict()
  .superRefine((h, ctx) => {
    const states = h.rollouts.reduce((n, r) => n + r.states.length, 0);
    if (states !== h.hiddenRows) ctx.addIssue({ code: "custom", path: ["hiddenRows"], message: `is ${h.hiddenRows} but the rollouts have ${states} states` });
    const badLength = h.rollouts.findIndex((r) => r.tokenIds.length !== r.tokens);
    if (badLength >= 0) ctx.addIssue({ code: "custom", path: ["rollouts", badLength, "tokenIds"], message: "length differs from tokens" });
    const bad = h.rollouts.findIndex((r) => r.prompt >= h.prompts.length);
    if (bad >= 0) ctx.addIssue({ code: "custom", path: ["rollouts", bad, "prompt"], message: `no such prompt (there are ${h.prompts.length})` });
  });

export type RolloutHeader = z.infer<typeof rolloutHeaderSchema>;
export type Rollout = z.infer<typeof rolloutSchema>;

/** Rollouts in memory: the header plus hiddenRows x nEmbd hidden states. */
export interface RolloutSet {
  header: RolloutHeader;
  hidden: Float32Array;
}

/** Index of each rollout's first hidden row. */
export function rolloutRowOffsets(header: RolloutHeader): number[] {
  const offsets: number[] = [];
  let row = 0;
  for (const r of header.rollouts) {
    offsets.push(row);
    row += r.states.length;
  }
  return offsets;
}

const ROLLOUT_CONTAINER: ContainerFormat<RolloutHeader> = {
  magic: ROLLOUT_MAGIC,
  version: ROLLOUT_FORMAT_VERSION,
  noun: "rollout",
  schema: rolloutHeaderSchema,
  expectedFloats: (header) => header.hiddenRows * header.model.nEmbd,
  // The header lists every rollout's token ids: large sets are megabytes of JSON.
  maxHeaderBytes: 1 << 30,
  describeSchemaError: briefZodError,
};

export function encodeRollouts(set: RolloutSet): Buffer {
  const parsed = rolloutHeaderSchema.safeParse(set.header);
  if (!parsed.success) throw new Error(`cannot write rollouts: header fails schema: ${briefZodError(parsed.error)}`);
  const header = parsed.data;
  if (set.hidden.length !== header.hiddenRows * header.model.nEmbd) {
    throw new Error(`cannot write rollouts: ${set.hidden.length} hidden floats, expected ${header.hiddenRows} x ${header.model.nEmbd}`);
  }
  return encodeContainer(ROLLOUT_CONTAINER, header, [set.hidden]);
}

/** Parses and verifies rollout bytes; every problem is a one-line UserError naming `source`. */
export function decodeRollouts(bytes: Buffer, source: string): RolloutSet {
  const { header, payload } = decodeContainer(bytes, ROLLOUT_CONTAINER, source);
  return { header, hidden: payload };
}

export function readRolloutFile(path: string): RolloutSet {
  return decodeRollouts(readUserFile(path, "rollout file"), path);
}

export function writeRolloutFile(path: string, set: RolloutSet): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, encodeRollouts(set));
}


/**
 * SHA-256 of rollout data as training sees it (header minus its creation time, plus the hidden
 * states), for checkpoint fingerprints: re-sampled identical rollouts give the same digest.
 */
export function rolloutDigest(set: RolloutSet): string {
  const { createdAt: _createdAt, ...content } = set.header;
  return createHash("sha256")
    .update(JSON.stringify(content))
    .update(new Uint8Array(set.hidden.buffer, set.hidden.byteOffset, set.hidden.byteLength))
    .digest("hex");
}

/** Refuses rollouts sampled from a model other than `model` (compared by SHA-256 of the file). */
export function assertRolloutsMatchModel(set: RolloutSet, model: { file: string; sha256: string; nEmbd: number }, source: string): void {
  const m = set.header.model;
  if (m.sha256 !== model.sha256) {
    throw new UserError(
      `${source} was sampled from model ${m.file} (sha256 ${m.sha256.slice(0, 12)}…), not from ${model.file} (sha256 ${model.sha256.slice(0, 12)}…): sample rollouts for this model`,
    );
  }
  if (m.nEmbd !== model.nEmbd) throw new UserError(`${source} has hidden size ${m.nEmbd} but the model has ${model.nEmbd}`);
}
