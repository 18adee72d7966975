// A zod error as one short line: the first few issues (a damaged file can fail thousands of
// rows, and the user needs to know what is wrong, not every place).
import { describeZodError } from "../errors.js";

const SHOWN_ISSUES = 3;

export function briefZodError(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  const shown = describeZodError({ issues: error.issues.slice(0, SHOWN_ISSUES) });
  const more = error.issues.length - SHOWN_ISSUES;
  return more > 0 ? `${shown}; and ${more} more` : shown;
}
