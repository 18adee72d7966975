// Whether a cached model is the file the project pins. Hashing 100 MB takes a noticeable fraction of
// a second, so a verified file's size and mtime are remembered: in this process, and in a small memo
// file beside it (every later command). A file changed since (size or mtime) is hashed again.
import { readFileSync, statSync } from "node:fs";
import { fileSha256Sync } from "../util/fileHash.js";
import { writeFileAtomic } from "../util/files.js";
import { cachedModelPath, verifiedMemoPath } from "./cache.js";
import type { KnownModel } from "./registry.js";

export type ModelState = "verified" | "absent" | "damaged";

export interface ModelStatus {
  readonly model: KnownModel;
  readonly path: string;
  readonly state: ModelState;
  /** Why a present file is not the pinned one. */
  readonly reason?: string;
}

interface Memo {
  sha256: string;
  size: number;
  mtimeMs: number;
}

const verifiedThisProcess = new Map<string, string>();

const stamp = (m: { size: number; mtimeMs: number }): string => `${m.size}:${m.mtimeMs}`;


/** Remembers that `path` (as it is now) has the pinned hash. The memo file is best effort: a read-only cache only loses the shortcut. */
export function rememberVerified(path: string, sha256: string): void {
  const s = statSync(path);
  verifiedThisProcess.set(path, stamp(s));
  try {
    writeFileAtomic(verifiedMemoPath(path), JSON.stringify({ sha256, size: s.size, mtimeMs: s.mtimeMs } satisfies Memo) + "\n");
  } catch {
    // not writable: this process still remembers
  }
}

function memoSays(path: string, sha256: string, current: string): boolean {
  if (verifiedThisProcess.get(path) === current) return true;
  try {
    const memo = JSON.parse(readFileSync(verifiedMemoPath(path), "utf8")) as Partial<Memo>;
    return memo.sha256 === sha256 && stamp({ size: memo.size ?? -1, mtimeMs: memo.mtimeMs ?? -1 }) === current;
  } catch {
    return false;
  }
}

/** A known model's cached file: absent, damaged (and why), or verified against the pinned sha256. */
export function modelStatus(model: KnownModel, dir?: string): ModelStatus {
  const path = cachedModelPath(model, dir);
  let s;
  try {
    s = statSync(path);
  } catch {
    return { model, path, state: "absent" };
  }
  if (!s.isFile()) return { model, path, state: "damaged", reason: "not a regular file" };
  if (s.size !== model.size) return { model, path, state: "damaged", reason: `${s.size} bytes, expected ${model.size}` };
  if (memoSays(path, model.sha256, stamp(s))) return { model, path, state: "verified" };
  const actual = fileSha256Sync(path);
  if (actual !== model.sha256) return { model, path, state: "damaged", reason: `sha256 ${actual.slice(0, 12)}…, expected ${model.sha256.slice(0, 12)}…` };
  rememberVerified(path, model.sha256);
  return { model, path, state: "verified" };
}
