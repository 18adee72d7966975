// Before anything else, /health and unknown routes included: a Host this server does not answer
// (DNS rebinding) or a browser page of an origin it does not allow gets a 403; a preflight of an
// allowed origin is answered here. The rules themselves are origins.ts's.
import type { FastifyInstance } from "fastify";
import fastifyPlugin from "fastify-plugin";
import type { Boundary } from "../origins.js";

/** Not encapsulated: the hook runs for every request. */
export const hostOriginChecks = fastifyPlugin(
  async (app: FastifyInstance, { gate }: { gate: Boundary }) => {
    app.addHook("onRequest", async (request, reply) => {
      gate.checkHost(request.headers.host);
      if (gate.checkOrigin(request, reply)) return reply;
    });
  },
  { name: "inference-guard-host-origin" },
);
