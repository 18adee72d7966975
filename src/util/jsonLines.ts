// Reading a JSON Lines input file (one object per line, blank lines skipped) where every mistake
// is a one-line UserError naming the file and, for a bad line, its number.
import { readUserFile } from "./files.js";
import type { z } from "zod";
import { UserError } from "../errors.js";

export interface JsonLinesFormat<S extends z.ZodType> {
  /** What the file is, in messages: "prompts file", "data file". */
  noun: string;
  /** One line's expected shape, for the "not valid JSON" message, e.g. {"prompt": "..."}. */
  shape: string;
  schema: S;
  /** Formats a schema failure (the callers differ in how terse they want it). */
  describe(error: z.ZodError): string;
}

export function readJsonLinesFile<S extends z.ZodType>(path: string, format: JsonLinesFormat<S>): z.output<S>[] {
  return parseJsonLines(readUserFile(path, format.noun, "utf8"), path, format);
}

/** The rows of a JSON Lines text read from `path` (named in the messages). */
export function parseJsonLines<S extends z.ZodType>(text: string, path: string, format: Omit<JsonLinesFormat<S>, "noun">): z.output<S>[] {
  const rows: z.output<S>[] = [];
  // A UTF-8 byte-order mark (Windows editors) is not part of line 1's JSON.
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new UserError(`${path}:${i + 1}: not valid JSON (expected ${format.shape} per line)`);
    }
    const parsed = format.schema.safeParse(json);
    if (!parsed.success) throw new UserError(`${path}:${i + 1}: ${format.describe(parsed.error)}`);
    rows.push(parsed.data);
  });
  return rows;
}
