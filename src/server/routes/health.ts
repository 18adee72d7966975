// GET /health (outside /v1: no API key, for load balancers and the operator) and OpenAI's
// GET /v1/models and /v1/models/:id, which list the one model served.
import type { FastifyInstance } from "fastify";
import { HttpError } from "../httpError.js";
import type { Boundary } from "../origins.js";
import type { ServerState } from "../state.js";

export async function healthRoute(app: FastifyInstance, { state, gate }: { state: ServerState; gate: Boundary }): Promise<void> {
  app.get("/health", async () => ({
    status: state.shuttingDown ? "shutting_down" : "ok",
    model: state.modelId,
    costModels: state.costs.names(),
    queue: state.queue.stats,
    requests: state.counters,
    clients: { ...state.policy.summary(), auditTrace: state.audit !== undefined, ...gate.summary() },
    uptimeSeconds: Math.round((Date.now() - state.startedAt) / 1000),
  }));
}

export async function modelRoutes(v1: FastifyInstance, { state }: { state: ServerState }): Promise<void> {
  const modelObject = () => ({ id: state.modelId, object: "model", created: Math.floor(state.startedAt / 1000), owned_by: "inference-guard" });
  v1.get("/models", async () => ({ object: "list", data: [modelObject()] }));
  v1.get<{ Params: { id: string } }>("/models/:id", async (request) => {
    if (request.params.id !== state.modelId) throw unknownModel(request.params.id, state.modelId);
    return modelObject();
  });
}

function unknownModel(asked: string, served: string): HttpError {
  return new HttpError(404, `unknown model "${asked}": this server serves "${served}"`, "model_not_found", "model");
}
