// The one durable, resumable JSON Lines log (batch's results, eval's records): every line is whole
// or absent. Each line is one write(2) of the complete line (O_APPEND) followed by fsync, so a
// crash (even SIGKILL) can at worst leave an unfinished *last* line; opening the file again cuts
// that tail off and hands back the whole lines, which is what lets a re-run resume exactly where
// the last one stopped, with nothing lost and nothing written twice. A write the disk refuses
// (full, a size limit, an I/O error) is a one-line UserError, and what it wrote of the line is cut
// off again at once when it can be (else by the next open).
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { UserError } from "../errors.js";

export class DurableLog {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Opens (or creates) `path` for appending, cuts off an unfinished last line, and returns the
   * whole lines in it (without their newlines) and how many bytes were cut. Errors of opening the
   * file are thrown as they come (callers say them in their own terms).
   */
  static open(path: string): { log: DurableLog; lines: string[]; repairedBytes: number } {
    const fd = openSync(path, "a+");
    try {
      const size = fstatSync(fd).size;
      const bytes = Buffer.alloc(size);
      let read = 0;
      while (read < size) read += readSync(fd, bytes, read, size - read, read);
      const keep = bytes.lastIndexOf(0x0a) + 1; // everything after the last newline is an unfinished line
      if (keep < size) {
        ftruncateSync(fd, keep);
        fsyncSync(fd);
      }
      const lines = bytes.subarray(0, keep).toString("utf8").split("\n");
      lines.pop(); // the empty string after the final newline
      return { log: new DurableLog(path, fd), lines, repairedBytes: size - keep };
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Appends `line` (one line of JSON, no newline) whole and durably (fsync) before returning. */
  append(line: string): void {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`);
    const data = Buffer.from(line + "\n", "utf8");
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
