// The batch output: append-only JSONL where every line is either whole or absent (the durable
// log of src/util/durableLog.ts); opening it again reads back the ids already done, which is what
// makes a re-run resume exactly where the last one stopped, with nothing lost and nothing written twice.
import { statSync } from "node:fs";
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { DurableLog } from "../util/durableLog.js";
import { batchIdSchema, idKey } from "./input.js";

/** What a results line must hold to count as done (the rest is the result itself). */
const resultLineSchema = z.looseObject({ id: batchIdSchema, text: z.string(), cost: z.number() });
/** A row that failed for good, `{id, error, attempts}`: `queue collect` writes one for each, so it is done too. */
const failedLineSchema = z.looseObject({ id: batchIdSchema, error: z.string() });

export class ResultsFile {
  private constructor(
    private readonly log: DurableLog,
    /** Keys (see idKey) of the ids already in the file. */
    readonly done: ReadonlySet<string>,
    /** Bytes of an unfinished last line that were cut off when opening (0 when the file was clean). */
    readonly repairedBytes: number,
    /** Lines that record a failed row ({id, error}) rather than a result. */
    readonly failedLines = 0,
  ) {}

  get path(): string {
    return this.log.path;
  }

  /** Opens (or creates) the results file for appending, after repairing and reading it. */
  static open(path: string): ResultsFile {
    let opened: ReturnType<typeof DurableLog.open>;
    try {
      if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`--out ${path} is a folder, not a file`);
      opened = DurableLog.open(path);
    } catch (error) {
      if (error instanceof UserError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new UserError(code === "ENOENT" ? `cannot create ${path}: its folder does not exist` : `cannot open ${path}: ${(error as Error).message}`);
    }
    try {
      const { done, failedLines } = ResultsFile.scan(path, opened.lines);
      return new ResultsFile(opened.log, done, opened.repairedBytes, failedLines);
    } catch (error) {
      opened.log.close();
      throw error;
    }
  }

  /** The finished ids of the file's whole lines. */
  private static scan(path: string, lines: readonly string[]): { done: Set<string>; failedLines: number } {
    const done = new Set<string>();
    let failedLines = 0;
    lines.forEach((line, index) => {
      if (line.trim() === "") return;
      const notAResult = (why: string): UserError =>
        new UserError(`${path} line ${index + 1} is not a batch result (${why}): was it written by something else? Use another --out, or fix or remove that line`);
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw notAResult("not valid JSON");
      }
      const parsed = resultLineSchema.safeParse(value);
      const failed = parsed.success ? undefined : failedLineSchema.safeParse(value);
      if (!parsed.success && !failed!.success) throw notAResult(describeZodError(parsed.error));
      if (!parsed.success) failedLines++;
      done.add(idKey((parsed.success ? parsed.data : failed!.data!).id));
    });
    return { done, failedLines };
  }

  /** Appends one result as one whole line, durably (see DurableLog.append: a refused write is a one-line UserError). */
  append(record: object): void {
    this.log.append(JSON.stringify(record));
  }

  close(): void {
    this.log.close();
  }
}
