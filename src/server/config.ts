// The server's own settings (network, limits, shutdown, and what clients may change), validated
// with zod. Model, cost and search defaults are the library's (CreateGuardOptions); see
// guardServer.ts. The trust-boundary settings are declared once in SERVER_POLICY_FLAGS: serve's
// flags and --help lines come from that table.
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_MAX_QUEUE = 16;
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 10;

/** Settings a request may set looser than the operator's once the operator allows it (by flag name). */
export const CLIENT_OVERRIDES = ["budget", "beams", "samples", "max-tokens", "on-unsafe", "cost"] as const;
export type ClientOverride = (typeof CLIENT_OVERRIDES)[number];
/** Baselines a request may ask for once allowed (the guard itself always). */
export const CLIENT_METHODS = ["sample", "greedy"] as const;
/** What a client's `guard: {trace: true}` gets: nothing (400), a trace without unsafe text, or every candidate's text. */
export const CLIENT_TRACES = ["off", "redacted", "full"] as const;
export type ClientTrace = (typeof CLIENT_TRACES)[number];

/** A Host the operator allows: a name or address, optionally with a port, or "*" (any). */
const HOST_PATTERN = /^(\*|\[[0-9a-f:.]+\]|[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?)(:\d{1,5})?$/i;

const originSchema = z.string().refine((origin) => origin === "*" || origin === "null" || isOrigin(origin), {
  error: (issue) => `${JSON.stringify(issue.input)} is not an origin: write scheme://host[:port] (no path), "null" or "*"`,
});

/** scheme://host[:port], as a browser sends it in Origin (an app's own scheme too, e.g. app://ui). */
function isOrigin(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(:\d{1,5})?$/i.test(text);
}

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
    /** Settings a request may set looser than the server's ("all": every one). */
    allowClientOverride: z.array(z.enum([...CLIENT_OVERRIDES, "all"])).default([]),
    /** Baseline methods a request may ask for besides the guard. */
    allowClientMethods: z.array(z.enum([...CLIENT_METHODS, "all"])).default([]),
    /** Traces for clients: off, redacted (no text of a candidate over budget) or full. */
    clientTrace: z.enum(CLIENT_TRACES).default("off"),
    /** Every request's full trace is written here, one file per answer (server-side audit). */
    auditTraceDir: z.string().min(1).optional(),
    /** Host headers answered besides loopback names (and, bound to a non-loopback address, IP literals); "*": any. */
    allowedHosts: z.array(z.string().regex(HOST_PATTERN, "a host is a name or address, optionally :port, or *")).default([]),
    /** Browser origins allowed (CORS); empty: CORS off and requests carrying another Origin refused. */
    allowedOrigins: z.array(originSchema).default([]),
  })
  .strict();

export type ServerConfig = z.input<typeof serverConfigSchema>;
export type ResolvedServerConfig = z.output<typeof serverConfigSchema>;

export function parseServerConfig(input: unknown): ResolvedServerConfig {
  const result = serverConfigSchema.safeParse(input ?? {});
  if (!result.success) throw new UserError(`invalid server settings: ${describeZodError(result.error)}`);
  const config = result.data;
  // Any web page could then send requests with a key its visitor holds (Fetch forbids a credentialed "*" for this reason).
  if (config.allowedOrigins.includes("*") && config.apiKey !== undefined) {
    throw new UserError('--allow-origin "*" cannot be used with an API key: any web page could use the key; list the origins instead');
  }
  return {
    ...config,
    allowedHosts: config.allowedHosts.map((h) => h.toLowerCase()),
    allowedOrigins: config.allowedOrigins.map((o) => (o === "*" || o === "null" ? o : o.toLowerCase())),
  };
}

/** One trust-boundary flag of `serve`: declared once, for its parser, --help and docs. */
export interface ServerPolicyFlag {
  key: "allowClientOverride" | "allowClientMethods" | "clientTrace" | "auditTraceDir" | "allowedHosts" | "allowedOrigins";
  flag: string;
  /** "" for a switch; a list flag is repeatable and takes comma-separated values. */
  metavar: string;
  list?: true;
  /** A switch: the value it gives `key`. */
  sets?: ClientTrace;
  help: string;
}

export const SERVER_POLICY_FLAGS: readonly ServerPolicyFlag[] = [
  { key: "allowClientOverride", flag: "allow-client-override", metavar: "LIST", list: true, help: `settings a request may set looser than this server's: ${CLIENT_OVERRIDES.join(", ")}, or all (default: none; a request may only tighten them)` },
  { key: "allowClientMethods", flag: "allow-client-methods", metavar: "LIST", list: true, help: `baselines a request may ask for with guard: {method}: ${CLIENT_METHODS.join(", ")}, or all (default: none, the guard only)` },
  { key: "clientTrace", flag: "allow-client-trace", metavar: "", sets: "redacted", help: "a request may ask for guard: {trace: true}: statuses, costs, z, rewards and lengths, no text of a candidate over budget" },
  { key: "clientTrace", flag: "allow-client-trace-unsafe-text", metavar: "", sets: "full", help: "the same trace with every candidate's text, over budget too (the pruned text reaches clients)" },
  { key: "auditTraceDir", flag: "audit-trace-dir", metavar: "DIR", help: "write every answer's full trace to DIR/<response id>.json (fsynced; server-side only)" },
  { key: "allowedHosts", flag: "allow-host", metavar: "HOST", list: true, help: "also answer requests whose Host is HOST (name or address, optional :port; * = any); default: loopback names, and IP addresses when --host is not loopback" },
  { key: "allowedOrigins", flag: "allow-origin", metavar: "ORIGIN", list: true, help: "turn CORS on for browser pages of ORIGIN (scheme://host:port; * only without an API key); default: off" },
];
