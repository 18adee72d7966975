// A route's body checked against its zod schema, or a 400 that names the first wrong field (its
// `param`) and, for an unknown key, the keys that are valid where it stands.
import type { z } from "zod";
import { describeZodError } from "../errors.js";
import { guardFieldSchema } from "../request/guardSettings.js";
import { HttpError } from "./httpError.js";

/** The keys the server's `guard` body field takes (for the message about an unknown one). */
const GUARD_FIELD_KEYS = Object.keys((guardFieldSchema as unknown as { shape?: Record<string, unknown> }).shape ?? {}).sort();

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "the request body must be a JSON object (Content-Type: application/json)");
  }
  const result = schema.safeParse(body);
  if (!result.success) {
    const issues = result.error.issues.map((issue) =>
      issue.code === "unrecognized_keys"
        ? {
            ...issue,
            // Inside `guard` the valid keys are the guard field's own; at the top, OpenAI's plus ours.
            message:
              `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")} ` +
              (issue.path[0] === "guard" && issue.path.length === 1
                ? `(the guard field takes ${GUARD_FIELD_KEYS.join(", ")})`
                : "(not an OpenAI request field; this server's own are guard and ignore_eos)"),
          }
        : issue,
    );
    const first = issues[0];
    const param = first ? (first.code === "unrecognized_keys" ? [...first.path, first.keys[0]] : first.path).map(String).join(".") || null : null;
    throw new HttpError(400, `invalid request: ${describeZodError({ issues })}`, "invalid_request", param);
  }
  return result.data;
}
