// `inference-guard serve`: the OpenAI-compatible HTTP server, until SIGTERM or Ctrl-C.
import { ASSISTANT_COST_DEFAULT } from "../cost/defaults.js";
import { UserError } from "../errors.js";
import { isKnownModelName } from "../models/index.js";
import {
  DEFAULT_BODY_LIMIT,
  DEFAULT_HOST,
  DEFAULT_MAX_QUEUE,
  DEFAULT_PORT,
  DEFAULT_SHUTDOWN_GRACE_SECONDS,
  SERVER_POLICY_FLAGS,
  type ServerConfig,
} from "../server/config.js";
import { createGuardServer, type GuardServer } from "../server/guardServer.js";
import { stringFlag, type OptionSpec } from "./args.js";
import { flagHelp, float, int, readFlags, type FlagTable } from "./flagTable.js";
import { modelFlag, modelHelp } from "./modelFlag.js";
import { REWARD_MODEL_HELP, REWARD_MODEL_OPTIONS, helpLine, namedRewardModels } from "./settingFlags.js";
import { COST_OPTIONS, COST_SET_HELP, namedCostModels, SERVICE_RUNTIME_FLAGS, SEARCH_FLAGS, namedCostSpec, readRuntime, readSettings, settingHelp, settingOptions } from "./settingFlags.js";
import { onStopRequest } from "./stopRequests.js";

export const API_KEY_ENV = "INFERENCE_GUARD_API_KEY";

/** A help line folded at 100 columns, continued under the help column. */
function wrapped(line: string, width = 100, indent = 25): string {
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(" ", width);
    if (cut <= indent) break;
    out.push(rest.slice(0, cut));
    rest = " ".repeat(indent) + rest.slice(cut + 1);
  }
  return [...out, rest].join("\n");
}

/** serve's own flags (the guard settings are src/settings.ts's, the trust boundary's server/config.ts's, --model modelFlag.ts's). */
export const SERVE_FLAGS = {
  host: { metavar: "HOST", help: "interface to listen on; 0.0.0.0 exposes it to the network", default: DEFAULT_HOST },
  port: { metavar: "P", help: "TCP port, 0 = any free one", default: DEFAULT_PORT, parse: int() },
  "api-key": { metavar: "KEY", help: "require Authorization: Bearer KEY on /v1/*", defaultText: `$${API_KEY_ENV}, else no key` },
  "max-queue": {
    metavar: "Q",
    help: "requests that may wait while --parallel ones run; beyond that 429 +\nRetry-After",
    default: DEFAULT_MAX_QUEUE,
    parse: int(),
  },
  "body-limit": { metavar: "BYTES", help: "largest request body, 413 beyond it", default: DEFAULT_BODY_LIMIT, parse: int() },
  "shutdown-grace": {
    metavar: "S",
    help: "on SIGTERM/Ctrl-C, seconds running requests may finish before they are\ncancelled; a second signal cancels at once",
    default: DEFAULT_SHUTDOWN_GRACE_SECONDS,
    parse: float(),
  },
  quiet: { help: "no per-request log lines on stderr" },
  "model-name": { metavar: "NAME", help: "the model's id in the API\n", defaultText: "a known model's name, else the file name without .gguf" },
  "cost-model": {
    metavar: "NAME=SPEC",
    help: 'another cost model a request may choose with guard: {cost: "NAME"};\nrepeatable (requests name models, never files)',
    multiple: true,
  },
  critic: { metavar: "FILE", help: "critic file trained for this model (optional)" },
} as const satisfies FlagTable;

export const SERVE_HELP = `Usage: inference-guard serve [options]

Serves the model over an OpenAI-compatible HTTP API, every answer guarded by InferenceGuard:
  POST /v1/chat/completions   chat (the model's chat template), stream: true for SSE
  POST /v1/completions        plain prompt, stream: true for SSE
  GET  /v1/models             the served model
  GET  /health                status, queue and request counts (no API key needed)
Per request, an extra body field guard: {budget, beams, samples, width, cost, reward, ...} sets the
search; every answer carries guard: {cost, budget, withinBudget, fallback, ...}. Streams send only
text the search has committed. See docs/server.md ("Trust boundary").

The search settings below are ceilings for clients: a request may make the search stricter (a
lower budget, more beams or samples, a smaller max_tokens, a cost model offered to it, refuse
instead of truncate), never looser (400 naming the field and this server's limit), and may not
ask for a baseline method or a trace, unless the flags under "Trust boundary" open them.

Network:
${flagHelp(SERVE_FLAGS, ["host", "port", "api-key", "max-queue", "body-limit", "shutdown-grace", "quiet"])}

Trust boundary (what clients may change and see; Host and Origin checks):
${SERVER_POLICY_FLAGS.map((f) => wrapped(helpLine(f.flag, f.metavar, f.help))).join("\n")}

Model and safety:
${modelHelp(25, "never")}
${flagHelp(SERVE_FLAGS, ["model-name"])}
${COST_SET_HELP}
${REWARD_MODEL_HELP}
${flagHelp(SERVE_FLAGS, ["cost-model", "critic"])}
${settingHelp(["criticWeight"])}

Search defaults (a request's guard field and standard fields override them):
${settingHelp(["budget", "beams", "samples", "width", "maxResamples", "onUnsafe", "branch", "maxTokens"], {
  budget: { help: "safety budget, > 0", note: `${ASSISTANT_COST_DEFAULT.budget} for chat prompts on the built-in "assistant" model` },
  maxTokens: { help: "answer length when a request has no max_tokens" },
})}

Runtime:
${settingHelp(SERVICE_RUNTIME_FLAGS)}
  -h, --help             this help
`;

/** Flags declared elsewhere: the settings (settingFlags.ts), --model (modelFlag.ts), the trust boundary (server/config.ts). */
const SHARED_OPTIONS: OptionSpec = {
  ...settingOptions([...SEARCH_FLAGS, ...SERVICE_RUNTIME_FLAGS]),
  ...COST_OPTIONS,
  ...REWARD_MODEL_OPTIONS,
  model: { type: "string" },
  ...Object.fromEntries(SERVER_POLICY_FLAGS.map((f) => [f.flag, f.metavar === "" ? { type: "boolean" } : f.list ? { type: "string", multiple: true } : { type: "string" }])),
};

/** The trust-boundary flags as server settings: list flags repeatable and comma-separated. */
function readPolicyFlags(v: Record<string, unknown>): Partial<ServerConfig> {
  const out: Record<string, unknown> = {};
  for (const f of SERVER_POLICY_FLAGS) {
    const value = v[f.flag];
    if (value === undefined || value === false) continue;
    if (f.sets !== undefined) {
      // --allow-client-trace-unsafe-text includes what --allow-client-trace allows.
      if (out[f.key] !== "full") out[f.key] = f.sets;
    } else if (f.list) {
      out[f.key] = (value as string[]).flatMap((entry) => entry.split(",")).map((entry) => entry.trim()).filter((entry) => entry !== "");
    } else out[f.key] = value;
  }
  return out as Partial<ServerConfig>;
}

export async function serveCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { help, values: f, raw: v } = readFlags(SERVE_FLAGS, argv, (line) => err.write(`inference-guard serve: ${line}\n`), SHARED_OPTIONS);
  if (help) {
    out.write(SERVE_HELP);
    return 0;
  }
  const quiet = f.quiet;
  const server = await createGuardServer({
    host: f.host,
    port: f.port,
    apiKey: f["api-key"] ?? (process.env[API_KEY_ENV] || undefined),
    maxQueue: f["max-queue"],
    bodyLimit: f["body-limit"],
    shutdownGraceSeconds: f["shutdown-grace"],
    ...readPolicyFlags(v),
    // A known model is served under its name (the file name says less: SmolLM2-135M-Instruct.Q4_1).
    modelId: f["model-name"] ?? [stringFlag(v, "model")].find((m) => m !== undefined && isKnownModelName(m)),
    model: modelFlag(v),
    cost: namedCostSpec(v),
    costModels: namedCostModels(v),
    rewardModels: namedRewardModels(v),
    critic: f.critic,
    ...readRuntime(v, true),
    defaults: readSettings(v, SEARCH_FLAGS),
    log: quiet ? undefined : (line) => err.write(`${new Date().toISOString()} ${line}\n`),
  });

  let url: string;
  try {
    url = await server.listen();
  } catch (error) {
    await server.close({ graceSeconds: 0 });
    throw listenError(error, server);
  }
  out.write(`inference-guard: serving "${server.modelId}" at ${url}/v1 (OpenAI-compatible); SIGTERM or Ctrl-C stops it\n`);
  await untilSignalled(server, err);
  return 0;
}

/** Resolves once a SIGTERM/SIGINT shutdown has finished; a second signal cancels running work. */
function untilSignalled(server: GuardServer, err: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const removeStopListeners = onStopRequest(
      (signal) => {
        const before = server.stats;
        err.write(
          `inference-guard: ${signal}: shutting down (finishing ${before.queue.running} running requests, at most ${server.config.shutdownGraceSeconds} s; ` +
            `${before.queue.waiting} waiting get 503)\n`,
        );
        server.close().then(
          () => {
            removeStopListeners();
            const after = server.stats.requests;
            err.write(
              `inference-guard: stopped: ${after.completed - before.requests.completed} requests finished, ` +
                `${after.cancelled - before.requests.cancelled} cancelled, ${after.refused - before.requests.refused} refused while shutting down\n`,
            );
            resolve();
          },
          reject,
        );
      },
      (signal) => {
        err.write(`inference-guard: ${signal} again: cancelling running requests\n`);
        server.cancelAll();
      },
    );
  });
}

function listenError(error: unknown, server: GuardServer): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${server.config.host}:${server.config.port}`;
  if (code === "EADDRINUSE") return new UserError(`cannot listen on ${where}: the port is already in use (pick another with --port)`);
  if (code === "EACCES") return new UserError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges)`);
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") return new UserError(`cannot listen on ${where}: no such local address (check --host)`);
  return error as Error;
}
