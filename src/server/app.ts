// The HTTP surface (fastify): OpenAI-compatible /v1/chat/completions, /v1/completions and
// /v1/models, plus /health. Every body is checked with zod; every refusal is an OpenAI-shaped
// error with a status a client can act on (400 bad input or a setting looser than the server's,
// 401 key, 403 a Host or Origin not allowed, 404 model, 413 size, 429 busy with Retry-After, 503
// shutting down). Up to `parallel` generations run at once (sharing each decode, see
// engine/slots.ts) through the JobQueue; the rest wait there. The trust boundary (what a client
// may change, which traces it sees, which hosts and origins are answered) is docs/server.md's.
//
// Each concern is a fastify plugin, registered in the order requests meet them: the JSON body
// parser, the error handlers, the Host/Origin checks (every route), then the routes: /health
// outside /v1, and inside it the API key check, the models, chat and completions routes; the
// generation requests themselves are answer.ts's.
import Fastify, { type FastifyInstance } from "fastify";
import { HttpError } from "./httpError.js";
import { boundary } from "./origins.js";
import { apiKeyCheck } from "./plugins/apiKey.js";
import { openAiErrors } from "./plugins/errors.js";
import { hostOriginChecks } from "./plugins/hostOrigin.js";
import { jsonBody } from "./plugins/jsonBody.js";
import { chatRoute } from "./routes/chat.js";
import { completionsRoute } from "./routes/completions.js";
import { healthRoute, modelRoutes } from "./routes/health.js";
import type { ServerState } from "./state.js";

export type { CancelReason, RequestCounters, ServerState } from "./state.js";
export { HttpError };

export function buildApp(state: ServerState): FastifyInstance {
  const app = Fastify({ bodyLimit: state.config.bodyLimit, logger: false, return503OnClosing: true });
  const gate = boundary(state.config);
  app.register(jsonBody);
  app.register(openAiErrors, { state });
  app.register(hostOriginChecks, { gate });
  app.register(healthRoute, { state, gate });
  app.register(
    async (v1) => {
      v1.register(apiKeyCheck, { apiKey: state.config.apiKey });
      v1.register(modelRoutes, { state });
      v1.register(chatRoute, { state });
      v1.register(completionsRoute, { state });
    },
    { prefix: "/v1" },
  );
  return app;
}
