// A real redis-server for the queue tests (Debian's package; .ci/run installs it when missing):
// on 127.0.0.1, on a free port, with its working folder in a temp dir that stop() removes, and no
// persistence unless asked for (AOF, to test a restart).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** SIGKILL: no shutdown save, the hardest stop. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder (after kill or stop). */
  restart(): Promise<void>;
  /** Stops it and removes its folder. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** Append-only file with fsync on every write (appendfsync always). Default: no persistence. */
  aof?: boolean;
  /** Use this port (e.g. one a worker already waits on); default a free one. */
  port?: number;
}

export function redisServerAvailable(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (!redisServerAvailable()) throw new Error("redis-server not found: install Debian's redis-server (.ci/run does it when missing)");
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "inference-guard-redis-"));
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--dir", dir,
    "--save", "",
    "--appendonly", options.aof ? "yes" : "no",
    "--appendfsync", "always",
    "--daemonize", "no",
    "--logfile", "",
    "--loglevel", "warning",
  ];
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    child = spawn("redis-server", args, { stdio: "ignore" });
    await waitForPong(port, child);
  };
  const exit = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill(signal);
    await exited;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    kill: () => exit("SIGKILL"),
    restart: async () => {
      await exit("SIGKILL");
      await launch();
    },
    stop: async () => {
      await exit("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the server answers PING (or its process ends). */
async function waitForPong(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with status ${child.exitCode} (port ${port} taken?)`);
    if (await ping(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer within 15 s`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      reply += data.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}
