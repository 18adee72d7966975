// Request bodies: JSON only (fastify would also accept text/plain bodies, which no endpoint here
// means). fastify's own JSON parser answers every mistake with "Body is not valid JSON"; this one
// says what is wrong (where the JSON breaks, or which key is refused). Like fastify's, it refuses
// "__proto__" keys and "constructor.prototype" (prototype poisoning) anywhere in the body.
import type { FastifyInstance } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { HttpError } from "../httpError.js";

/** Not encapsulated: the parser serves every route. */
export const jsonBody = fastifyPlugin(
  async (app: FastifyInstance) => {
    app.removeContentTypeParser("text/plain");
    app.removeContentTypeParser("application/json");
    app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, text, done) => {
      try {
        done(null, parseJsonBody(text as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    });
  },
  { name: "inference-guard-json-body" },
);

/**
 * A request body as JSON: a 400 that says why when it is empty, is not JSON (V8's message names
 * where it breaks), or has a key that would poison a prototype (and where). Iterative, so a deeply
 * nested body cannot overflow the stack.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") throw new HttpError(400, "the request body is empty: send a JSON object (Content-Type: application/json)", "invalid_json");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `the request body is not valid JSON: ${(error as Error).message}`, "invalid_json");
  }
  const pending: Array<{ value: unknown; path: string }> = [{ value, path: "" }];
  while (pending.length > 0) {
    const { value: node, path } = pending.pop()!;
    if (typeof node !== "object" || node === null) continue;
    const isArray = Array.isArray(node);
    for (const key of Object.keys(node)) {
      const child = (node as Record<string, unknown>)[key];
      const at = isArray ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`;
      const poisoned = key === "__proto__" || (key === "constructor" && typeof child === "object" && child !== null && Object.hasOwn(child, "prototype"));
      if (poisoned) throw new HttpError(400, `the request body has a key "${key === "__proto__" ? "__proto__" : "constructor.prototype"}" (at ${at}), which is refused`, "invalid_request", at);
      if (typeof child === "object" && child !== null) pending.push({ value: child, path: at });
    }
  }
  return value;
}
