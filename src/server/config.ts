// The server's own settings (network, limits, shutdown), validated with zod. Model, cost and
// search defaults are the library's (CreateGuardOptions); see guardServer.ts.
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_MAX_QUEUE = 16;
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 10;

export const serverConfigSchema = z
  .object({
    /** Interface to listen on; loopback by default so nothing is exposed by accident. */
    host: z.string().min(1).default(DEFAULT_HOST),
    /** TCP port; 0 picks a free one (the bound address is reported). */
    port: z.int().min(0).max(65535).default(DEFAULT_PORT),
    /** When set, /v1/* requests need `Authorization: Bearer <apiKey>`. */
    apiKey: z.string().min(1, "the API key must not be empty").optional(),
    /** Requests allowed to wait while every slot is busy; more are refused with 429 and a Retry-After. */
    maxQueue: z.int().min(0).max(100_000).default(DEFAULT_MAX_QUEUE),
    /** Largest request body in bytes (413 beyond it). */
    bodyLimit: z.int().min(1024).max(1024 * 1024 * 1024).default(DEFAULT_BODY_LIMIT),
    /** On shutdown, how long running requests may finish before they are cancelled. */
    shutdownGraceSeconds: z.number().min(0).max(3600).default(DEFAULT_SHUTDOWN_GRACE_SECONDS),
    /** The model's id in the API (`model` field); default: the GGUF file name without .gguf. */
    modelId: z.string().min(1).max(256).optional(),
  })
  .strict();

export type ServerConfig = z.input<typeof serverConfigSchema>;
export type ResolvedServerConfig = z.output<typeof serverConfigSchema>;

export function parseServerConfig(input: unknown): ResolvedServerConfig {
  const result = serverConfigSchema.safeParse(input ?? {});
  if (!result.success) throw new UserError(`invalid server settings: ${describeZodError(result.error)}`);
  return result.data;
}
