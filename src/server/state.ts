// What every part of the HTTP app shares: the loaded guard and cost models, the queue, the
// operator's configuration and client policy, the requests in flight and the counters /health
// reports. GuardServer builds it; app.ts hands it to the plugins and routes.
import type { Guard } from "../createGuard.js";
import type { CostModelSet } from "../cost/costModelSet.js";
import type { GuardOptions } from "../search/options.js";
import type { AuditTrail } from "./auditTrace.js";
import type { ClientPolicy } from "./clientPolicy.js";
import type { ResolvedServerConfig } from "./config.js";
import type { JobQueue } from "./jobQueue.js";

/** Why a request's generation was cancelled. */
export type CancelReason = "client-gone" | "shutdown";

export interface RequestCounters {
  completed: number;
  /** Refused because the queue was full or the server was shutting down. */
  refused: number;
  /** Cancelled: the client left, or shutdown ran out of grace time. */
  cancelled: number;
  badRequests: number;
  failed: number;
}

export interface ServerState {
  readonly guard: Guard;
  readonly costs: CostModelSet;
  readonly queue: JobQueue;
  readonly modelId: string;
  readonly config: ResolvedServerConfig;
  readonly defaults: GuardOptions;
  /** What a client may change (the operator's settings are ceilings) and which traces it sees. */
  readonly policy: ClientPolicy;
  /** Where every answer's full trace is written (--audit-trace-dir); undefined: nowhere. */
  readonly audit?: AuditTrail;
  /** Controllers of requests queued or running, so shutdown can cancel them. */
  readonly active: Set<AbortController>;
  readonly counters: RequestCounters;
  readonly startedAt: number;
  shuttingDown: boolean;
  log(line: string): void;
}
