// The project's own JSON artifacts (probe files, reward heads): a `format` name and a
// `formatVersion` first, then a zod schema. Read with one clear line per mistake, written with
// numbers rounded to what they are (float32).
import { resolve } from "node:path";
import type { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { readUserFile } from "./files.js";

export interface VersionedJsonFormat<S extends z.ZodType> {
  /** What the file is called in messages, e.g. "probe file". */
  noun: string;
  format: string;
  version: number;
  /** The command that writes such a file, e.g. "inference-guard train-probe". */
  madeBy: string;
  schema: S;
}

/** Reads and validates one; every problem is a one-line UserError naming the file. */
export function readVersionedJsonFile<S extends z.ZodType>(path: string, f: VersionedJsonFormat<S>): z.output<S> {
  const file = resolve(path);
  const text = readUserFile(file, f.noun, "utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${f.noun} ${file} is not valid JSON: ${(error as Error).message}`);
  }
  const header = json as { format?: unknown; formatVersion?: unknown } | null;
  if (typeof header !== "object" || header === null || header.format !== f.format) {
    throw new UserError(`${file} is not a ${f.noun} (expected "format": "${f.format}"; make one with \`${f.madeBy}\`)`);
  }
  if (header.formatVersion !== f.version) {
    throw new UserError(`${f.noun} ${file} has format version ${String(header.formatVersion)}; this inference-guard reads version ${f.version}`);
  }
  const parsed = f.schema.safeParse(json);
  if (!parsed.success) throw new UserError(`invalid ${f.noun} ${file}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** The shortest decimal that reads back as the same float32 (9 significant digits always suffice). */
export function roundFloat32(x: number): number {
  return Number(Math.fround(x).toPrecision(9));
}
