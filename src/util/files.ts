// Reading the files a user names (one clear line when one cannot be read), and crash-safe writes:
// write a temp file beside the target, fsync, then rename over it, so a reader sees the old file
// or the new one, never half of one.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { UserError } from "../errors.js";

/**
 * Reads a file the user named. A missing file, a directory or any other read error becomes a
 * one-line UserError: "<noun> not found: PATH", "<noun> is a directory: PATH", "cannot read
 * <noun> PATH: reason".
 */
export function readUserFile(path: string, noun: string): Buffer;
export function readUserFile(path: string, noun: string, encoding: "utf8"): string;
export function readUserFile(path: string, noun: string, encoding?: "utf8"): Buffer | string {
  try {
    return encoding ? readFileSync(path, encoding) : readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`${noun} not found: ${path}`, { cause: error });
    if (code === "EISDIR") throw new UserError(`${noun} is a directory: ${path}`, { cause: error });
    throw new UserError(`cannot read ${noun} ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Writes `data` to `path` crash-safely (see writeFileAtomicWith). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  writeFileAtomicWith(path, (fd) => {
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  });
}

/**
 * Writes `path` through a temp file beside it (`tmp`, default a hidden name with the pid) that
 * `write` fills, fsynced and renamed over `path` at the end: a reader sees the old file or the new
 * one, never half of one; on an error the temp file is removed and the error thrown. For files too
 * large to hold in memory (a generated GGUF), `write` streams into the descriptor.
 */
export function writeFileAtomicWith(path: string, write: (fd: number) => void, tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)): void {
  const fd = openSync(tmp, "w");
  try {
    write(fd);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
