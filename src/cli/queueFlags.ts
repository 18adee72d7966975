// Flags that `queue push|status|collect` and `worker` share: where Redis is and which queue.
// Values are checked with the queue's zod schemas; a mistake names the flag.
import type { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { DEFAULT_REDIS_URL, REDIS_ENV, connectionSchema, defaultRedisUrl, type QueueConnection } from "../queue/config.js";
import { stringFlag } from "./args.js";
import { flagHelp, type FlagTable } from "./flagTable.js";

/** Spread into each command's table (src/cli/flagTable.ts). */
export const CONNECTION_FLAGS = {
  redis: {
    metavar: "URL",
    help: "Redis server, redis://[user:password@]host:port[/db] or rediss:// for TLS\n",
    defaultText: `$${REDIS_ENV}, else ${DEFAULT_REDIS_URL}`,
  },
  queue: { metavar: "NAME", help: "the queue: letters, digits, '.', '_' or '-'", required: true },
} as const satisfies FlagTable;

export const CONNECTION_HELP = flagHelp(CONNECTION_FLAGS);

export function connectionFlags(v: Record<string, unknown>): QueueConnection {
  const queue = stringFlag(v, "queue");
  if (queue === undefined || queue === "") throw new UserError("--queue NAME is required (see --help)");
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
