// POST /v1/chat/completions: OpenAI's chat body (max_completion_tokens wins over max_tokens, and
// messages name which one a limit came from), answered by answer.ts.
import type { FastifyInstance } from "fastify";
import { answer } from "../answer.js";
import { parseBody } from "../parseRequest.js";
import { chatCompletionRequestSchema, toChatMessages } from "../requestSchemas.js";
import type { ServerState } from "../state.js";

export async function chatRoute(v1: FastifyInstance, { state }: { state: ServerState }): Promise<void> {
  v1.post("/chat/completions", async (request, reply) => {
    const body = parseBody(chatCompletionRequestSchema, request.body);
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
    const maxTokensField = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
    return answer(state, "chat", toChatMessages(body.messages), { ...body, max_tokens: maxTokens, maxTokensField, echo: false }, request, reply);
  });
}
