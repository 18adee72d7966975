// The operator's audit trail: with --audit-trace-dir every answer's full trace (every candidate of
// every block, with its text, over budget too) goes to DIR/<response id>.json on the server, never
// to the client. Each file is written whole (a temp file, fsync, rename, fsync of the folder), so
// after a crash a file is there whole or not at all; the response id the client got names it.
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { UserError } from "../errors.js";

export const AUDIT_FORMAT = "inference-guard-audit-trace";
export const AUDIT_VERSION = 1;

export class AuditTrail {
  private constructor(readonly dir: string) {}

  /** Creates the folder if needed and checks that a file can be written there (a bad folder stops the server at startup). */
  static async open(dir: string): Promise<AuditTrail> {
    const path = resolve(dir);
    const trail = new AuditTrail(path);
    try {
      await mkdir(path, { recursive: true });
      const probe = join(path, `.write-check-${process.pid}`);
      await trail.writeDurably(probe, "");
      await rm(probe, { force: true });
    } catch (error) {
      throw new UserError(`cannot write audit traces to ${path}: ${(error as Error).message}`, { cause: error });
    }
    return trail;
  }

  /** The file of response `id`. */
  pathOf(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /** Writes one answer's record durably; resolves once it is on disk. */
  async write(id: string, record: object): Promise<string> {
    const path = this.pathOf(id);
    await this.writeDurably(path, `${JSON.stringify({ format: AUDIT_FORMAT, version: AUDIT_VERSION, id, ...record })}\n`);
    return path;
  }

  private async writeDurably(path: string, text: string): Promise<void> {
    const tmp = `${path}.${process.pid}.tmp`;
    const file = await open(tmp, "w");
    try {
      await file.writeFile(text);
      await file.sync();
    } catch (error) {
      await file.close();
      await rm(tmp, { force: true });
      throw error;
    }
    await file.close();
    await rename(tmp, path);
    // The rename itself is durable once the folder is synced (not possible on every platform).
    try {
      const folder = await open(this.dir, "r");
      try {
        await folder.sync();
      } finally {
        await folder.close();
      }
    } catch {
      // Windows cannot open a folder for syncing; the file itself is synced.
    }
  }
}
