// Connections to Redis (ioredis, the client BullMQ runs on). Two behaviours on a Redis that does
// not answer: the commands a person runs (push, status, collect) stop at once with one line
// naming the URL and the reason; a worker waits for it, retrying with backoff and saying so.
// Once connected, both ride out a Redis restart: ioredis reconnects with the same backoff and
// commands wait for it (maxRetriesPerRequest: null, which BullMQ's workers require anyway).
import { Redis } from "ioredis";
import { UserError } from "../errors.js";
import { redactUrl } from "./config.js";

export interface ConnectOptions {
  url: string;
  /** true: retry the first connection until Redis answers (a worker); false: fail at once with a UserError. */
  waitForServer: boolean;
  /** Where retry notices go (one line each). */
  log?: (line: string) => void;
  /** Stops waiting for the first connection (a worker told to stop while Redis is down). */
  signal?: AbortSignal;
}

/** Delay before reconnect attempt `attempt` (1, 2, ...): 0.25 s doubling up to 10 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(10_000, 250 * 2 ** Math.min(Math.max(attempt - 1, 0), 6));
}

export function describeRedisError(error: unknown): string {
  // Duck-typed: errors can come from another realm (a vm context), where instanceof Error fails.
  if (typeof error !== "object" || error === null || !("message" in error)) return error === undefined ? "no answer" : String(error);
  const code = (error as NodeJS.ErrnoException).code;
  const message = String(error.message);
  if (code === "ECONNREFUSED") return "connection refused (is redis-server running there?)";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found";
  if (code === "ETIMEDOUT" || message === "connect ETIMEDOUT") return "connection timed out";
  return message;
}

/** Connects (or, with waitForServer, keeps trying until Redis answers or the signal fires). */
export async function connectRedis(options: ConnectOptions): Promise<Redis> {
  const shown = redactUrl(options.url);
  const log = options.log ?? (() => {});
  let everReady = false;
  let lost = false;
  let lastError: unknown;
  const client = new Redis(options.url, {
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => {
      if (!everReady && !options.waitForServer) return null; // connect() then rejects
      const delay = reconnectDelayMs(attempt);
      log(`Redis at ${shown} ${everReady ? "lost" : "unreachable"} (${describeRedisError(lastError)}); retrying in ${(delay / 1000).toFixed(1)} s`);
      lost = true;
      return delay;
    },
  });
  client.on("error", (error: unknown) => void (lastError = error));
  client.on("ready", () => {
    if (lost) log(`Redis at ${shown}: connected again`);
    everReady = true;
    lost = false;
  });

  if (!options.waitForServer) {
    try {
      await client.connect();
      return client;
    } catch (error) {
      client.disconnect();
      throw new UserError(`cannot reach Redis at ${shown}: ${describeRedisError(lastError ?? error)}`);
    }
  }
  // connect() rejects on the first failed attempt even while ioredis keeps retrying, so wait for
  // the 'ready' event instead.
  const ready = new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      client.off("ready", onReady);
      reject(new UserError(`stopped while waiting for Redis at ${shown}`));
    };
    const onReady = (): void => {
      options.signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    client.once("ready", onReady);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
  });
  client.connect().catch(() => {}); // failures go to the retry strategy above
  try {
    await ready;
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return client;
}

/** Closes a connection, politely when Redis answers, at once when it does not. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === "ready") {
    try {
      await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    } catch {
      // already closing
    }
  }
  client.disconnect();
}
