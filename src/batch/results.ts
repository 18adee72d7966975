// The batch output: append-only JSONL where every line is either whole or absent.
// Each result is one write(2) of the complete line (O_APPEND) followed by fsync, so a crash
// (even SIGKILL) can at worst leave an unfinished *last* line; opening the file again cuts that
// tail off and reads back the ids already done, which is what makes a re-run resume exactly
// where the last one stopped, with nothing lost and nothing written twice.
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { batchIdSchema, idKey } from "./input.js";

/** What a results line must hold to count as done (the rest is the result itself). */
const resultLineSchema = z.looseObject({ id: batchIdSchema, text: z.string(), cost: z.number() });

export class ResultsFile {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    /** Keys (see idKey) of the ids already in the file. */
    readonly done: ReadonlySet<string>,
    /** Bytes of an unfinished last line that were cut off when opening (0 when the file was clean). */
    readonly repairedBytes: number,
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
      const { done, keep, size } = ResultsFile.scan(path);
      if (keep < size) {
        ftruncateSync(fd, keep);
        fsyncSync(fd);
      }
      return new ResultsFile(path, fd, done, size - keep);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Reads the finished ids and finds where the last whole line ends. */
  private static scan(path: string): { done: Set<string>; keep: number; size: number } {
    const bytes = readFileSync(path);
    const lastNewline = bytes.lastIndexOf(0x0a);
    const keep = lastNewline + 1; // everything after the last newline is an unfinished line
    const done = new Set<string>();
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
      if (!parsed.success) throw notAResult(describeZodError(parsed.error));
      done.add(idKey(parsed.data.id));
    });
    return { done, keep, size: bytes.length };
  }

  /** Appends one result as one whole line, durably (fsync) before returning. */
  append(record: object): void {
    if (this.fd === undefined) throw new Error("results file is closed");
    const data = Buffer.from(JSON.stringify(record) + "\n", "utf8");
    let offset = 0;
    // One write(2) for a regular file in practice; loop only for the rare short write.
    while (offset < data.length) offset += writeSync(this.fd, data, offset, data.length - offset);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
