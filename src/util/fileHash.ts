// The one file hasher: SHA-256 of a file, streamed, memoised per (path, size, mtime) within the
// process. A GGUF of several GB takes seconds to hash, and a process may pin several cost and reward
// models to the same file.
import { createHash } from "node:crypto";
import { closeSync, createReadStream, openSync, readSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";

/** A recorded SHA-256 (a model file's, a fingerprint), as fileSha256 writes it. */
export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits");

const shaMemo = new Map<string, Promise<string>>();

/** SHA-256 of a file, hex; a file changed since (size or mtime) is hashed again. */
export function fileSha256(path: string): Promise<string> {
  const file = resolve(path);
  const info = statSync(file);
  const key = `${file}\0${info.size}\0${info.mtimeMs}`;
  let hash = shaMemo.get(key);
  if (!hash) {
    hash = new Promise<string>((ok, fail) => {
      const h = createHash("sha256");
      createReadStream(file, { highWaterMark: 1 << 20 })
        .on("data", (chunk) => h.update(chunk))
        .on("error", fail)
        .on("end", () => ok(h.digest("hex")));
    });
    hash.catch(() => shaMemo.delete(key));
    shaMemo.set(key, hash);
  }
  return hash;
}

/** The same hash, read synchronously and not memoised (for code that keeps its own memo, e.g. models/verify.ts). */
export function fileSha256Sync(path: string): string {
  const hash = createHash("sha256");
  const buffer = Buffer.alloc(4 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}
