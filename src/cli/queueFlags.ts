// Flags that `queue push|status|collect` and `worker` share: where Redis is and which queue.
// Values are checked with the queue's zod schemas; a mistake names the flag.
import type { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { REDIS_ENV, connectionSchema, defaultRedisUrl, type QueueConnection } from "../queue/config.js";
import { stringFlag, type OptionSpec } from "./args.js";

export const CONNECTION_OPTIONS: OptionSpec = {
  redis: { type: "string" },
  queue: { type: "string" },
};

export const CONNECTION_HELP = `  --redis URL            Redis server, redis://[user:password@]host:port[/db] or rediss:// for TLS
                         (default: $${REDIS_ENV}, else redis://127.0.0.1:6379)
  --queue NAME           the queue (required): letters, digits, '.', '_' or '-'`;

export function connectionFlags(v: Record<string, unknown>): QueueConnection {
  const queue = stringFlag(v, "queue");
  if (queue === undefined) throw new UserError("--queue is required (see --help)");
  return parseAsFlags(connectionSchema, { redis: stringFlag(v, "redis") ?? defaultRedisUrl(), queue }, { redis: "--redis", queue: "--queue" });
}

/** Parses settings gathered from flags; an issue is reported under its flag's name ("--attempts: ..."). */
export function parseAsFlags<S extends z.ZodType>(schema: S, input: unknown, flagNames: Readonly<Record<string, string>>): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? "");
    return { ...issue, path: [flagNames[field] ?? field, ...issue.path.slice(1)] };
  });
  throw new UserError(`${describeZodError({ issues })} (see --help)`);
}
