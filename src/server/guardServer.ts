// The OpenAI-compatible server as a library object: loads the guard (model, named cost models,
// critic), serves it over HTTP, `parallel` requests at once (default 4, sharing each decode), and
// shuts down gracefully: stop accepting, refuse what is queued, let running requests finish
// within a grace period (then cancel them), free the model.
import { basename, extname } from "node:path";
import type { FastifyInstance } from "fastify";
import type { CostModel } from "../cost/costModel.js";
import { createGuard, type CreateGuardOptions, type Guard } from "../createGuard.js";
import type { GuardOptions } from "../search/options.js";
import { buildApp } from "./app.js";
import type { CancelReason, RequestCounters, ServerState } from "./state.js";
import { AuditTrail } from "./auditTrace.js";
import { ClientPolicy } from "./clientPolicy.js";
import { parseServerConfig, type ResolvedServerConfig, type ServerConfig } from "./config.js";
import { CostModelSet, costModelSpecs } from "../cost/costModelSet.js";
import { JobQueue, type QueueStats } from "./jobQueue.js";
import { SETTINGS } from "../settings.js";

export interface GuardServerOptions extends ServerConfig, Omit<CreateGuardOptions, "cost" | "defaults"> {
  /** The default cost model: a spec ("rules:PATH") or a CostModel. Default: the conflict lexicon. */
  cost?: string | CostModel;
  /** More cost models a request may pick by name with `guard: {cost: NAME}`. */
  costModels?: Record<string, string | CostModel>;
  /** Search settings for requests that do not set them (max_tokens, budget, beams, ...). */
  defaults?: GuardOptions;
  /** One line per request and per server error (never prompt text). Default: silent. */
  log?: (line: string) => void;
}

export interface GuardServerStats {
  queue: QueueStats;
  requests: RequestCounters;
  shuttingDown: boolean;
}

export class GuardServer {
  private closing?: Promise<void>;
  private address?: string;

  private constructor(
    readonly app: FastifyInstance,
    readonly guard: Guard,
    private readonly state: ServerState,
  ) {}

  /** Loads the model and cost models and builds the HTTP app (call listen() to serve). */
  static async create(options: GuardServerOptions = {}): Promise<GuardServer> {
    const { model, cost, costModels, reward, rewardModels, critic, gpu, threads, contextSize, parallel = SETTINGS.parallel.default, defaults = {}, log = () => {}, ...serverSettings } = options;
    const config: ResolvedServerConfig = parseServerConfig(serverSettings);
    const audit = config.auditTraceDir !== undefined ? await AuditTrail.open(config.auditTraceDir) : undefined;
    const costs = await CostModelSet.load(costModelSpecs(cost, costModels));
    let guard: Guard;
    try {
      guard = await createGuard({ model, cost: costs, reward, rewardModels, critic, gpu, threads, contextSize, parallel, defaults });
    } catch (error) {
      await costs.dispose();
      throw error;
    }
    const modelPath = guard.engine.info.modelPath;
    const state: ServerState = {
      guard,
      costs,
      queue: new JobQueue(config.maxQueue, guard.parallel),
      modelId: config.modelId ?? basename(modelPath, extname(modelPath)),
      config,
      defaults,
      policy: new ClientPolicy(config, defaults, costs),
      ...(audit ? { audit } : {}),
      active: new Set(),
      counters: { completed: 0, refused: 0, cancelled: 0, badRequests: 0, failed: 0 },
      startedAt: Date.now(),
      shuttingDown: false,
      log,
    };
    for (const warning of guard.warnings) log(`warning: ${warning}`);
    return new GuardServer(buildApp(state), guard, state);
  }

  get modelId(): string {
    return this.state.modelId;
  }

  get config(): ResolvedServerConfig {
    return this.state.config;
  }

  /** The base URL once listening, e.g. http://127.0.0.1:8080 (the OpenAI base URL adds /v1). */
  get url(): string {
    if (this.address === undefined) throw new Error("the server is not listening yet");
    return this.address;
  }

  get stats(): GuardServerStats {
    return { queue: this.state.queue.stats, requests: { ...this.state.counters }, shuttingDown: this.state.shuttingDown };
  }

  /** Starts listening on the configured host and port; returns the base URL. */
  async listen(): Promise<string> {
    await this.app.listen({ host: this.state.config.host, port: this.state.config.port });
    const bound = this.app.server.address();
    if (bound === null || typeof bound === "string") throw new Error(`unexpected server address: ${String(bound)}`);
    const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
    this.address = `http://${host}:${bound.port}`;
    return this.address;
  }

  /**
   * Graceful shutdown (idempotent): stops accepting connections, answers queued requests with 503,
   * gives the running one `graceSeconds` to finish (then cancels it: a stream ends with an error
   * event, a plain request gets 503), and frees the model.
   */
  close(options: { graceSeconds?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(options.graceSeconds ?? this.state.config.shutdownGraceSeconds);
    return this.closing;
  }

  /** Cancels every queued and running request now (a second SIGTERM, or a hurried caller). */
  cancelAll(): void {
    for (const controller of this.state.active) controller.abort("shutdown" satisfies CancelReason);
  }

  private async shutdown(graceSeconds: number): Promise<void> {
    const { state } = this;
    state.shuttingDown = true;
    state.queue.close();
    const appClosed = this.app.close();
    const timer = setTimeout(() => this.cancelAll(), graceSeconds * 1000);
    await state.queue.idle();
    clearTimeout(timer);
    // Responses are written by now; keep-alive connections left open would hold close() forever.
    await new Promise((resolve) => setImmediate(resolve));
    this.app.server.closeIdleConnections();
    const forced = setTimeout(() => this.app.server.closeAllConnections(), 1000);
    await appClosed;
    clearTimeout(forced);
    await this.guard.dispose();
  }
}

/** Shorthand for GuardServer.create(options). */
export function createGuardServer(options: GuardServerOptions = {}): Promise<GuardServer> {
  return GuardServer.create(options);
}
