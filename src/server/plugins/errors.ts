// Every refusal as OpenAI's error body ({error: {message, type, code, param}}) with a status a
// client can act on, counted for /health: thrown HttpErrors keep their status, code and headers;
// fastify's own errors (body too large, wrong Content-Type) get a message that says what to send;
// anything else is a 500 whose detail goes to the log, never to the client. Unknown routes are a
// 404 of the same shape.
import type { FastifyInstance } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { HttpError } from "../httpError.js";
import { errorBody, errorTypeForStatus } from "../responses.js";
import type { ServerState } from "../state.js";

/** Not encapsulated: the handlers serve every route. */
export const openAiErrors = fastifyPlugin(
  async (app: FastifyInstance, { state }: { state: ServerState }) => {
    app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
      const status = error instanceof HttpError ? error.statusCode : (error.statusCode ?? 500);
      if (status >= 500) {
        state.counters.failed++;
        state.log(`error: ${error.stack ?? error.message}`);
      } else if (status === 429 || status === 503) state.counters.refused++;
      else if (status !== 401) state.counters.badRequests++;
      const message =
        error.code === "FST_ERR_CTP_BODY_TOO_LARGE"
          ? `request body is larger than the server's limit of ${state.config.bodyLimit} bytes`
          : error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
            ? `unsupported Content-Type ${JSON.stringify(request.headers["content-type"] ?? "(none)")}: send the body as JSON, Content-Type: application/json`
            : status >= 500 && !(error instanceof HttpError)
              ? "internal server error"
              : error.message;
      if (error instanceof HttpError) reply.headers(error.headers);
      const code = error instanceof HttpError ? error.code : (error.code ?? null);
      return reply.code(status).send(errorBody(message, errorTypeForStatus(status), code, error instanceof HttpError ? error.param : null));
    });

    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send(errorBody(`no route for ${request.method} ${request.url.split("?")[0]}`, "not_found_error", "unknown_url")),
    );
  },
  { name: "inference-guard-errors" },
);
