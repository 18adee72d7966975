import type { z } from "zod";
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

/** A model path that does not exist. Callers that know where the path came from may say more. */
export class ModelFileNotFoundError extends UserError {
  constructor(
    readonly path: string,
    message = `model file not found: ${path}`,
  ) {
    super(message);
  }
}

/**
 * createGuard's model file is missing. The message speaks to a library caller (the `model`
 * option, $INFERENCE_GUARD_MODEL); the CLI says `--model` instead.
 */
export class GuardModelNotFoundError extends ModelFileNotFoundError {
  constructor(
    path: string,
    /** True when no model was given and the default ($INFERENCE_GUARD_MODEL, else the shared stories260K) was tried. */
    readonly defaulted: boolean,
  ) {
    super(
      path,
      defaulted
        ? `no model given, and the default model file was not found: ${path} (pass createGuard({ model: "path/to/model.gguf" }) or set INFERENCE_GUARD_MODEL)`
        : `model file not found: ${path}`,
    );
  }
}

/** Formats a zod error as one readable line: `where: what` for each issue. */
export function describeZodError(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}

const SHOWN_ISSUES = 3;

/**
 * A zod error as one short line: the first few issues (a damaged file can fail thousands of
 * rows, and the user needs to know what is wrong, not every place).
 */
export function briefZodError(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  const shown = describeZodError({ issues: error.issues.slice(0, SHOWN_ISSUES) });
  const more = error.issues.length - SHOWN_ISSUES;
  return more > 0 ? `${shown}; and ${more} more` : shown;
}

/** Parses an options object with its zod schema; a mistake is one UserError line naming `what`. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw new UserError(`invalid ${what}: ${describeZodError(result.error)}`);
  return result.data;
}
