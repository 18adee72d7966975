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

/**
 * Errors that only say the connection is down (refused, reset, closed, timed out): the client's own
 * one-line "lost ... retrying" notice covers them, so callers need not log them again.
 */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"].includes(code)) return true;
  const message = String((error as { message?: unknown }).message ?? "");
  return /^Connection is closed|^connect ETIMEDOUT|Stream isn't writeable|^read ECONNRESET/.test(message);
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
    // BullMQ duplicates this client for its blocking connection, options and all: the notices are
    // written from this client's own events below, so a loss is one line, not one per connection.
    retryStrategy: (attempt) => {
      if (!everReady && !options.waitForServer) return null; // connect() then rejects
      return reconnectDelayMs(attempt);
    },
  });
  client.on("error", (error: unknown) => void (lastError = error));
  client.on("reconnecting", (delay: number) => {
    log(`Redis at ${shown} ${everReady ? "lost" : "unreachable"} (${describeRedisError(lastError)}); retrying in ${(delay / 1000).toFixed(1)} s`);
    lost = true;
  });
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

/**
 * How long Redis has gone without answering, for a command that is stopping and must not wait
 * for it forever: a client that is not connected has been silent since it lost the connection; a
 * connected one is PINGed every `intervalMs`, and a PING left unanswered (a Redis that is stuck,
 * e.g. paused or swapping, while its socket stays open) counts as silence too.
 */
export class RedisSilence {
  private lastHeard = Date.now();
  private lastError: unknown;
  private pinging = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onError = (error: unknown): void => void (this.lastError = error);

  constructor(
    private readonly client: Redis,
    intervalMs = 250,
  ) {
    client.on("error", this.onError);
    this.timer = setInterval(() => this.probe(), intervalMs);
    this.timer.unref();
    this.probe();
  }

  /** Milliseconds since Redis last answered a PING (counted from construction at most). */
  silentMs(): number {
    return Date.now() - this.lastHeard;
  }

  /** Why it is silent, in a few words ("connection refused", "no answer"). */
  reason(): string {
    return this.client.status === "ready" ? "no answer" : describeRedisError(this.lastError);
  }

  stop(): void {
    clearInterval(this.timer);
    this.client.off("error", this.onError);
  }

  private probe(): void {
    if (this.client.status !== "ready" || this.pinging) return;
    this.pinging = true;
    this.client.ping().then(
      () => {
        this.lastHeard = Date.now();
        this.pinging = false;
      },
      () => {
        this.pinging = false;
      },
    );
  }
}

/**
 * Resolves with why Redis failed a stopping command (e.g. "connection refused for 5.0 s") once it
 * has not answered for `patienceMs`; never resolves while it answers. stop() ends the watch.
 */
export function whenRedisSilent(client: Redis, patienceMs: number): { gone: Promise<string>; stop: () => void } {
  const silence = new RedisSilence(client);
  let check: NodeJS.Timeout | undefined;
  const gone = new Promise<string>((resolve) => {
    const test = (): void => {
      const silent = silence.silentMs();
      if (silent < patienceMs) return;
      clearInterval(check);
      const reason = silence.reason();
      silence.stop();
      resolve(`${reason}, nothing heard for ${(silent / 1000).toFixed(1)} s`);
    };
    check = setInterval(test, Math.min(250, Math.max(10, patienceMs / 4)));
    test();
  });
  return {
    gone,
    stop: () => {
      clearInterval(check);
      silence.stop();
    },
  };
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
