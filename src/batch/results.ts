// The batch output: append-only JSONL where every line is either whole or absent.
// Each result is one write(2) of the complete line (O_APPEND) followed by fsync, so a crash
// (even SIGKILL) can at worst leave an unfinished *last* line; opening the file again cuts that
// tail off and reads back the ids already done, which is what makes a re-run resume exactly
// where the last one stopped, with nothing lost and nothing written twice.
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { batchIdSchema, idKey } from "./input.js";

/** What a results line must hold to count as done (the rest is the result itself). */
const resultLineSchema = z.looseObject({ id: batchIdSchema, text: z.string(), cost: z.number() });
/** A row that failed for good, `{id, error, attempts}`: `queue collect` writes one for each, so it is done too. */
const failedLineSchema = z.looseObject({ id: batchIdSchema, error: z.string() });

export class ResultsFile {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    /** Keys (see idKey) of the ids already in the file. */
    readonly done: ReadonlySet<string>,
    /** Bytes of an unfinished last line that were cut off when opening (0 when the file was clean). */
    readonly repairedBytes: number,
    /** Lines that record a failed row ({id, error}) rather than a result. */
    readonly failedLines = 0,
  ) {
    this.fd = fd;
  }

  /** Opens (or creates) the results file for appending, after repairing and reading it. */
  static open(path: string): ResultsFile {
    let fd: number;
    try {
      if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`--out ${path} is a folder, not a file`);
      fd = openSync(path, "a+");
    } catch (error) {
      if (error instanceof UserError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new UserError(code === "ENOENT" ? `cannot create ${path}: its folder does not exist` : `cannot open ${path}: ${(error as Error).message}`);
    }
    try {
      const { done, failedLines, keep, size } = ResultsFile.scan(path);
      if (keep < size) {
        ftruncateSync(fd, keep);
        fsyncSync(fd);
      }
      return new ResultsFile(path, fd, done, size - keep, failedLines);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Reads the finished ids and finds where the last whole line ends. */
  private static scan(path: string): { done: Set<string>; failedLines: number; keep: number; size: number } {
    const bytes = readFileSync(path);
    const lastNewline = bytes.lastIndexOf(0x0a);
    const keep = lastNewline + 1; // everything after the last newline is an unfinished line
    const done = new Set<string>();
    let failedLines = 0;
    const lines = bytes.subarray(0, keep).toString("utf8").split("\n");
    lines.pop(); // the empty string after the final newline
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
    return { done, failedLines, keep, size: bytes.length };
  }

  /**
   * Appends one result as one whole line, durably (fsync) before returning. A write the disk
   * refuses (full, a size limit, an I/O error) is a one-line UserError; what it wrote of the line
   * is cut off again when it can be, and else by the next open, so the file keeps whole lines only.
   */
  append(record: object): void {
    if (this.fd === undefined) throw new Error("results file is closed");
    const data = Buffer.from(JSON.stringify(record) + "\n", "utf8");
    const start = fstatSync(this.fd).size;
    let offset = 0;
    try {
      // One write(2) for a regular file in practice; loop only for the rare short write.
      while (offset < data.length) offset += writeSync(this.fd, data, offset, data.length - offset);
      fsyncSync(this.fd);
    } catch (error) {
      if (offset > 0) {
        try {
          ftruncateSync(this.fd, start);
        } catch {
          // the next open cuts the unfinished line off
        }
      }
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === "ENOSPC" ? "the disk is full" : code === "EFBIG" ? "the file is at its size limit" : code === "EDQUOT" ? "the disk quota is used up" : (error as Error).message;
      throw new UserError(`cannot write ${this.path}: ${why}; every line before it is whole: fix that and run the same command again to resume`, { cause: error });
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
