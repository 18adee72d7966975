// `inference-guard worker`: answers the rows of a queue (see src/cli/queue.ts and
// src/queue/worker.ts), --parallel at a time, until told to stop.
import { existsSync, statSync } from "node:fs";
import { basename } from "node:path";
import { createGuard } from "../createGuard.js";
import {
  DEFAULT_LOCK_DURATION_MS,
  DEFAULT_MAX_STALLED_COUNT,
  DEFAULT_STALLED_INTERVAL_MS,
  DEFAULT_STOP_WAIT_MS,
  redactUrl,
  workerSettingsSchema,
} from "../queue/config.js";
import { runQueueWorker } from "../queue/worker.js";
import { CostModelSet, costModelSpecs } from "../cost/costModelSet.js";
import { resolveCostModelPath } from "../cost/load.js";
import { fileSha256 } from "../util/fileHash.js";
import { stringFlag, type OptionSpec } from "./args.js";
import { flagHelp, int, readFlags, type FlagTable } from "./flagTable.js";
import { modelFlagOrDefault, modelHelp } from "./modelFlag.js";
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFlags, parseAsFlags } from "./queueFlags.js";
import { REWARD_MODEL_HELP, REWARD_MODEL_OPTIONS, namedRewardModels } from "./settingFlags.js";
import { COST_OPTIONS, COST_SET_HELP, namedCostModels, SERVICE_RUNTIME_FLAGS, namedCostSpec, readRuntime, settingHelp, settingOptions } from "./settingFlags.js";
import { onStopRequest } from "./stopRequests.js";

/** worker's own flags, --redis/--queue as queue's (the guard settings are src/settings.ts's, --model modelFlag.ts's). */
export const WORKER_FLAGS = {
  ...CONNECTION_FLAGS,
  "cost-model": { metavar: "NAME=SPEC", help: 'another cost model rows may choose with guard: {cost: "NAME"}; repeatable', multiple: true },
  critic: { metavar: "FILE", help: "critic file trained for this model (optional)" },
  name: { metavar: "NAME", help: "this worker's name in queue status", defaultText: "HOST:PID" },
  "lock-duration": { metavar: "MS", help: "a row's lock; a live worker renews it every half of this", default: DEFAULT_LOCK_DURATION_MS, parse: int() },
  "stalled-interval": { metavar: "MS", help: "how often to requeue rows whose worker died", default: DEFAULT_STALLED_INTERVAL_MS, parse: int() },
  "max-stalled": { metavar: "N", help: "times a row may lose its worker before it fails", default: DEFAULT_MAX_STALLED_COUNT, parse: int() },
  "stop-wait": {
    metavar: "MS",
    help: "once told to stop, how long to wait for a Redis that does not answer\nbefore exiting without storing the rows held",
    default: DEFAULT_STOP_WAIT_MS,
    parse: int(),
  },
  "exit-when-empty": { help: "exit once nothing is waiting, delayed or running (default: wait for more)" },
  quiet: { help: "no notices, only mistakes" },
} as const satisfies FlagTable;

export const WORKER_HELP = `Usage: inference-guard worker --queue NAME [--redis URL] [--model PATH] [options]

Answers the rows of a queue filled with \`inference-guard queue push\`, --parallel at a time
(their decodes shared), and stores each answer in Redis before acknowledging its row. Start one
on each machine (or one per core with --threads 1 for a small model). Every worker of a queue must have the same model, cost
models, reward and critic (checked: the first worker's are recorded, another is refused), so a row gets
the same answer whichever worker takes it. A row's search settings (budget, beams, max tokens,
seed, ...) were fixed when it was pushed.

Stopping: SIGTERM or Ctrl-C finishes the rows being answered, stores them, and exits 0 (a second
one exits at once; those rows then go back to the queue like a killed worker's). If Redis does
not answer while it stops (down, or stuck) for --stop-wait, it exits 0 without storing them and
says so in one line: they too go back to the queue. A worker that is killed loses nothing: once a
row's lock runs out (--lock-duration), another worker's stalled check (every --stalled-interval)
puts the row back in the queue. If Redis is down or goes away, the worker retries with backoff
(0.25 s doubling to 10 s) and says so.

${CONNECTION_HELP}

Model and safety (the same on every worker of a queue):
${modelHelp(25, "never")}
${COST_SET_HELP}
${settingHelp(["reward"])}
${REWARD_MODEL_HELP}
${flagHelp(WORKER_FLAGS, ["cost-model", "critic"])}

Runtime:
${settingHelp(["gpu", "threads", "parallel"])}
${settingHelp(["contextSize"])}
                         (raise it for rows with long prompts or many beams; a row that does not fit
                         fails with the reason)
${flagHelp(WORKER_FLAGS, ["name"])}

Failure handling (the defaults are the production values; docs/scale-out.md):
${flagHelp(WORKER_FLAGS, ["lock-duration", "stalled-interval", "max-stalled", "stop-wait", "exit-when-empty", "quiet"])}
  -h, --help             this help
`;

/** Flags declared elsewhere: the settings (settingFlags.ts), --model (modelFlag.ts). */
const SHARED_OPTIONS: OptionSpec = {
  ...settingOptions(SERVICE_RUNTIME_FLAGS),
  ...COST_OPTIONS,
  ...REWARD_MODEL_OPTIONS,
  model: { type: "string" },
};

export async function workerCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { help, values: f, raw: v } = readFlags(WORKER_FLAGS, argv, (line) => err.write(`inference-guard worker: ${line}\n`), SHARED_OPTIONS);
  if (help) {
    out.write(WORKER_HELP);
    return 0;
  }
  const connection = connectionFlags(f);
  const settings = parseAsFlags(
    workerSettingsSchema,
    {
      lockDurationMs: f["lock-duration"],
      stalledIntervalMs: f["stalled-interval"],
      maxStalledCount: f["max-stalled"],
      stopWaitMs: f["stop-wait"],
      exitWhenEmpty: f["exit-when-empty"],
    },
    { lockDurationMs: "--lock-duration", stalledIntervalMs: "--stalled-interval", maxStalledCount: "--max-stalled", stopWaitMs: "--stop-wait", exitWhenEmpty: "--exit-when-empty" },
  );
  const name = f.name;
  const log = f.quiet ? () => {} : (line: string) => void err.write(`inference-guard: ${line}\n`);

  const specs = costModelSpecs(
    namedCostSpec(v),
    namedCostModels(v),
  );
  const modelPath = modelFlagOrDefault(v);
  const criticPath = f.critic;
  const costs = await CostModelSet.load(specs);
  const rewardModels = namedRewardModels(v);
  const guard = await createGuard({ model: modelPath, cost: costs, rewardModels, critic: criticPath, ...readRuntime(v, true) }).catch(async (error: unknown) => {
    await costs.dispose();
    throw error;
  });
  for (const warning of guard.warnings) err.write(`inference-guard: warning: ${warning}\n`);

  // First SIGTERM / Ctrl-C: finish the rows being answered, then exit 0. A second one: exit now.
  const controller = new AbortController();
  const removeStopListeners = onStopRequest(() => {
    log("stopping: finishing the rows being answered first (signal again to exit now)");
    controller.abort();
  });
  try {
    const summary = await runQueueWorker({
      guard,
      costs,
      connection,
      settings,
      answeredWith: await answeredWith(modelPath, specs, criticPath, [stringFlag(v, "reward") ?? "default", ...Object.entries(rewardModels).map(([n, s]) => `${n}=${s}`)].join(" ")),
      name,
      signal: controller.signal,
      log,
    });
    const counted =
      `${summary.answered} rows answered, ${summary.failed} failed for good, in ${summary.seconds.toFixed(1)} s` +
      (summary.answered > 0 ? ` (${(summary.answered / summary.seconds).toFixed(2)} rows/s)` : "");
    if (summary.redisGone) {
      // Always said, --quiet or not: the rows held were not stored.
      const { reason, unstored } = summary.redisGone;
      const rows = unstored.length === 0 ? "no row was being answered" : `${unstored.map((id) => `row ${JSON.stringify(id)}`).join(", ")} not stored: back to the queue when their locks run out`;
      err.write(`inference-guard: worker stopped without Redis at ${redactUrl(connection.redis)} (${reason}): ${rows}; ${counted}\n`);
    } else log(`worker stopped: ${counted}`);
    return 0;
  } finally {
    removeStopListeners();
    await guard.dispose();
  }
}

/**
 * What answers depend on besides the row, as one line (the queue's first worker records it; every
 * other must match). The cost, reward head and critic files by name and content (sha256, its first
 * 16 digits): two builds of one file can have the same size (chat-harm.json's pins are fixed-length),
 * and a harm: JSON pins its classifiers, so its own hash covers them. The model by name and size:
 * hashing GBs would delay every start by seconds (paths differ between machines either way).
 */
async function answeredWith(modelPath: string, specs: Record<string, string>, criticPath: string | undefined, reward: string | undefined): Promise<string> {
  const costs = await Promise.all(
    Object.entries(specs)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(async ([costName, spec]) => {
        const colon = spec.indexOf(":");
        const [kind, path] = colon > 0 ? [spec.slice(0, colon), spec.slice(colon + 1)] : ["rules", spec];
        // The file the loader read: a shipped name (harm:chat-harm.json) resolves against the package.
        return `${costName}=${kind}:${await contentIdentity(resolveCostModelPath(path.trim(), process.cwd()))}`;
      }),
  );
  // The reward ranks candidates: workers with another one would answer a row differently.
  const rewardId = (
    await Promise.all(
      (reward ?? "default").split(" ").map(async (r) => {
        const head = /^((?:\S+=)?head:)(\S+)$/.exec(r);
        return head ? `${head[1]}${await contentIdentity(resolveCostModelPath(head[2]!, process.cwd()))}` : r;
      }),
    )
  ).join(" ");
  return `model ${sizeIdentity(modelPath)}, cost ${costs.join(" ")}, reward ${rewardId}, critic ${criticPath === undefined ? "none" : await contentIdentity(criticPath)}`;
}

async function contentIdentity(path: string): Promise<string> {
  return existsSync(path) ? `${basename(path)} (sha256 ${(await fileSha256(path)).slice(0, 16)})` : basename(path);
}

function sizeIdentity(path: string): string {
  const size = statSync(path, { throwIfNoEntry: false })?.size;
  return size === undefined ? basename(path) : `${basename(path)} (${size} bytes)`;
}
