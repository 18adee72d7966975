// Which Host and Origin headers the server answers: the DNS-rebinding check and CORS. A page on
// evil.example whose name is re-pointed to 127.0.0.1 reaches a loopback server from a browser,
// but its requests carry `Host: evil.example`; answering only loopback names (and the hosts the
// operator lists) refuses them, as Ollama's fix for its rebinding CVE does. Browser pages of
// other origins are refused unless the operator lists them, which turns CORS on for them.
import { isIP } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import { oneLine } from "../util/oneLine.js";
import type { ResolvedServerConfig } from "./config.js";
import { HttpError } from "./httpError.js";

/** A host name (or address) that can only mean this machine: no DNS answer can re-point it. */
export function isLoopbackName(name: string): boolean {
  const h = name.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost" || h.endsWith(".localhost")) return true; // RFC 6761: browsers resolve these to loopback themselves
  if (h === "::1" || h === "::ffff:127.0.0.1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

/** "name:port" or "[v6]:port" → the name (brackets kept) and the port; undefined when malformed. */
export function splitHost(header: string): { name: string; port?: string } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header);
  if (!m) return undefined;
  return { name: m[1]!.toLowerCase(), ...(m[2] !== undefined ? { port: m[2] } : {}) };
}

const quoted = (text: string): string => JSON.stringify(oneLine(text.length > 100 ? `${text.slice(0, 100)}...` : text));

export interface Boundary {
  /** Throws the 403 for a Host this server does not answer. */
  checkHost(header: string | undefined): void;
  /** Origin and CORS: sets the CORS headers, answers a preflight (true: answered), throws the 403 for a refused origin. */
  checkOrigin(request: FastifyRequest, reply: FastifyReply): boolean;
  /** What /health says. */
  summary(): { hosts: string[]; origins: string[] | "off" };
}

export function boundary(config: ResolvedServerConfig): Boundary {
  const boundToLoopback = isLoopbackName(config.host);
  const anyHost = config.allowedHosts.includes("*");
  const hosts = new Set(config.allowedHosts);
  const anyOrigin = config.allowedOrigins.includes("*");
  const origins = new Set(config.allowedOrigins);
  const cors = origins.size > 0;
  const answered = `loopback names${boundToLoopback ? "" : " and IP addresses"}${hosts.size > 0 ? `, ${[...hosts].join(", ")}` : ""}`;

  const hostAllowed = (header: string): boolean => {
    if (anyHost) return true;
    const parts = splitHost(header);
    if (!parts) return false;
    if (isLoopbackName(parts.name)) return true;
    // An address typed by the client cannot be a rebinding (that needs a name); bound to loopback only loopback ones exist.
    if (!boundToLoopback && isIP(parts.name.replace(/^\[(.*)\]$/, "$1")) !== 0) return true;
    return hosts.has(parts.name) || hosts.has(header.toLowerCase());
  };

  return {
    checkHost(header) {
      if (header === undefined || header === "") throw new HttpError(403, "the request has no Host header", "host_not_allowed");
      if (!hostAllowed(header)) {
        throw new HttpError(403, `Host ${quoted(header)} is not allowed: this server answers ${answered} (the operator adds one with --allow-host; DNS rebinding protection)`, "host_not_allowed");
      }
    },

    checkOrigin(request, reply) {
      if (cors) reply.raw.setHeader("vary", "Origin");
      const origin = request.headers.origin;
      if (origin === undefined) return false;
      const allowed = anyOrigin || origins.has(origin.toLowerCase());
      const preflight = request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined;
      if (!allowed) {
        // A page served through this very host (a proxy that serves an app too) is not cross-origin.
        if (!preflight && sameOrigin(origin, request.headers.host)) return false;
        throw new HttpError(403, `origin ${quoted(origin)} is not allowed: ${cors ? `this server answers browser pages of ${[...origins].join(", ")}` : "CORS is off"} (the operator adds one with --allow-origin)`, "origin_not_allowed");
      }
      reply.raw.setHeader("access-control-allow-origin", anyOrigin ? "*" : origin);
      reply.raw.setHeader("access-control-expose-headers", "retry-after, retry-after-ms");
      if (!preflight) return false;
      const asked = request.headers["access-control-request-headers"];
      // Reflect the headers asked for (the openai client sends its own x-stainless-* ones) when they are plain names.
      const headers = typeof asked === "string" && /^[A-Za-z0-9-]+(\s*,\s*[A-Za-z0-9-]+)*$/.test(asked.trim()) ? asked.trim() : "authorization, content-type";
      reply.raw.setHeader("vary", "Origin, Access-Control-Request-Headers");
      void reply
        .code(204)
        .headers({ "access-control-allow-methods": "GET, POST, OPTIONS", "access-control-allow-headers": headers, "access-control-max-age": "600" })
        .send();
      return true;
    },

    summary() {
      return { hosts: [...(boundToLoopback ? ["loopback"] : ["loopback", "IP addresses"]), ...hosts], origins: cors ? [...origins] : "off" };
    },
  };
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
