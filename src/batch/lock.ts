// One batch run per results file: two runs appending to the same file would each skip only the
// ids done when they started, and write the rest twice. The lock is a file beside the results
// holding the owner's pid; a lock whose process is gone (a killed run) is taken over.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { UserError } from "../errors.js";
import { processAlive } from "../util/process.js";

export class RunLock {
  private constructor(readonly path: string) {}

  static acquire(resultsPath: string): RunLock {
    const path = `${resultsPath}.lock`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, "wx");
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return new RunLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw new UserError(`cannot create lock file ${path}: ${(error as Error).message}`);
      }
      const owner = Number.parseInt(readFileSync(path, "utf8"), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
        throw new UserError(`another batch run (pid ${owner}) is writing ${resultsPath}; wait for it, or delete ${path} if that is wrong`);
      }
      rmSync(path, { force: true }); // stale: its run was killed
    }
    throw new UserError(`cannot take the lock ${path}: another run keeps creating it`);
  }

  release(): void {
    rmSync(this.path, { force: true });
  }
}
