// POST /v1/completions: OpenAI's legacy text completion (one prompt; `echo` sends it back before
// the answer), answered by answer.ts.
import type { FastifyInstance } from "fastify";
import { answer } from "../answer.js";
import { parseBody } from "../parseRequest.js";
import { completionRequestSchema } from "../requestSchemas.js";
import type { ServerState } from "../state.js";

export async function completionsRoute(v1: FastifyInstance, { state }: { state: ServerState }): Promise<void> {
  v1.post("/completions", async (request, reply) => {
    const body = parseBody(completionRequestSchema, request.body);
    const prompt = typeof body.prompt === "string" ? body.prompt : body.prompt[0]!;
    return answer(state, "completion", prompt, { ...body, maxTokensField: "max_tokens", echo: body.echo === true }, request, reply);
  });
}
