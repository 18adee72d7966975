// Public API of the OpenAI-compatible server (re-exported by the package's main index).
export { GuardServer, createGuardServer } from "./guardServer.js";
export type { GuardServerOptions, GuardServerStats } from "./guardServer.js";
export type { ServerConfig } from "./config.js";
export { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_MAX_QUEUE, DEFAULT_BODY_LIMIT, DEFAULT_SHUTDOWN_GRACE_SECONDS } from "./config.js";
export type { GuardSummary } from "./responses.js";
export type { RequestCounters } from "./state.js";
export type { GuardField } from "../request/guardSettings.js";
