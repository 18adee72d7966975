/**
 * An error the user caused (bad flag, missing file, malformed config). The CLI prints its message
 * as one line and exits non-zero; anything else is a bug and keeps its stack trace.
 */
export class UserError extends Error {
  override readonly name = "UserError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Formats a zod error as one readable line: `where: what` for each issue. */
export function describeZodError(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}
