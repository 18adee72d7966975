// The API key (--api-key): every /v1 request must send `Authorization: Bearer <key>`, or gets a
// 401 with WWW-Authenticate. Keys are compared as SHA-256 digests with timingSafeEqual, so neither
// the key's length nor its bytes leak through timing. /health stays open (it is registered outside
// the /v1 scope this plugin joins).
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { HttpError } from "../httpError.js";

/** Not encapsulated: the hook joins the scope that registers it (/v1). No key: nothing is checked. */
export const apiKeyCheck = fastifyPlugin(
  async (app: FastifyInstance, { apiKey }: { apiKey: string | undefined }) => {
    if (apiKey === undefined) return;
    const expected = digest(apiKey);
    app.addHook("onRequest", async (request) => {
      const header = request.headers.authorization ?? "";
      const match = /^Bearer\s+(.+)$/i.exec(header);
      if (!match) throw new HttpError(401, "missing API key: send Authorization: Bearer <key>", "missing_api_key", null, { "www-authenticate": "Bearer" });
      if (!timingSafeEqual(digest(match[1]!.trim()), expected)) {
        throw new HttpError(401, "incorrect API key", "invalid_api_key", null, { "www-authenticate": "Bearer" });
      }
    });
  },
  { name: "inference-guard-api-key" },
);

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
