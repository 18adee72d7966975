// `inference-guard queue push|status|collect`: batch generation across machines on a Redis-backed
// BullMQ queue (workers: `inference-guard worker`, src/cli/worker.ts). See docs/scale-out.md.
import { existsSync } from "node:fs";
import { Writable } from "node:stream";
import type { Method } from "../createGuard.js";
import { ASSISTANT_COST_DEFAULT } from "../cost/defaults.js";
import { UserError } from "../errors.js";
import { pushSettingsSchema, redactUrl, type QueueConnection } from "../queue/config.js";
import { collectResults } from "../queue/collect.js";
import { pushRows } from "../queue/push.js";
import { closeRedis, connectRedis } from "../queue/redis.js";
import { formatStatus, queueStatus } from "../queue/status.js";
import { QueueStore, openQueue } from "../queue/store.js";
import { ASSISTANT_COST_NAME, DEFAULT_COST_NAME } from "../cost/costModelSet.js";
import { choice, flagHelp, int, readFlags, type FlagTable } from "./flagTable.js";
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFlags, parseAsFlags } from "./queueFlags.js";
import { SEARCH_FLAGS, readSettings, settingHelp, settingOptions } from "./settingFlags.js";
import { onStopRequest } from "./stopRequests.js";

const PUSH_DEFAULTS = pushSettingsSchema.parse({});

/** Each subcommand's own flags (the guard settings are src/settings.ts's). */
export const PUSH_FLAGS = {
  ...CONNECTION_FLAGS,
  in: { metavar: "FILE", help: "input JSONL, one {id, prompt | messages, guard?} per line", required: true },
  "cost-model": {
    metavar: "NAME",
    help: 'a cost model name rows may choose with guard: {cost: "NAME"}; the workers\nmust be started with --cost-model NAME=SPEC; repeatable (NAME=SPEC is\naccepted too, the spec is ignored here)',
    multiple: true,
  },
  attempts: { metavar: "N", help: "tries per row before it ends as failed with its reason", default: PUSH_DEFAULTS.attempts, parse: int() },
  "retry-delay": { metavar: "MS", help: "delay before the first retry of a failed row, doubling each time", default: PUSH_DEFAULTS.backoffMs, parse: int() },
  method: { metavar: "M", help: "guard | sample | greedy", default: "guard", parse: choice<Method>(["guard", "sample", "greedy"]) },
  chat: { help: "render string prompts with the model's chat template (messages always are)" },
} as const satisfies FlagTable;

export const STATUS_FLAGS = { ...CONNECTION_FLAGS, json: { help: "print the status as one JSON object" } } as const satisfies FlagTable;

export const COLLECT_FLAGS = {
  ...CONNECTION_FLAGS,
  out: { metavar: "FILE", help: "results JSONL, created or appended to", required: true },
  wait: { help: "wait until every row is answered or failed" },
  quiet: { help: "no progress bar" },
} as const satisfies FlagTable;

export const RETRY_FLAGS = CONNECTION_FLAGS;

const notice = (err: NodeJS.WritableStream) => (line: string) => void err.write(`inference-guard queue: ${line}\n`);

export const QUEUE_HELP = `Usage: inference-guard queue <push|status|collect> --queue NAME [--redis URL] [options]

Batch generation across machines: push a JSONL file of prompts (batch's input format) to a
Redis-backed queue, start \`inference-guard worker\` on as many machines as you like, and collect
the answers into one JSONL file in input order (batch's result format). docs/scale-out.md.

Subcommands:
  push      validate an input file and queue its rows (idempotent by row id)
  status    rows waiting / active / done / failed, and what each worker is doing
  collect   write one line per input row, in input order (resumable; --wait for the rest)
  retry     put the rows that failed for good back in the queue

Run \`inference-guard queue <subcommand> --help\` for its options.
`;

export const PUSH_HELP = `Usage: inference-guard queue push --queue NAME --in PROMPTS.jsonl [--redis URL] [options]

Checks every line of PROMPTS.jsonl exactly as \`batch\` does (same format, same per-line guard
settings, bad lines reported with their line number and skipped), then queues each valid row as
one job whose id is the row's id. Pushing again adds nothing twice: after a crash mid-push, or
after fixing bad lines, push the same file again and only what is missing is added. A queue holds
one input file: its lines stay where they were first pushed (collect's order); new rows go at the
end. The flags below fix how every row of the queue is answered (the first push sets them; a
later push must give the same ones), so every worker answers a row the same way, and the same
way \`batch\` with these flags and --seed would.

Exit status: 0 every row queued (or already queued), 1 some lines skipped, 2 a mistake.

Connection:
${CONNECTION_HELP}

Input:
${flagHelp(PUSH_FLAGS, ["in", "cost-model", "attempts", "retry-delay"])}

Defaults for rows that do not set them (as batch's):
${flagHelp(PUSH_FLAGS, ["method", "chat"])}
${settingHelp(["budget", "beams", "samples", "width", "maxResamples", "onUnsafe", "branch", "maxTokens", "temperature", "criticWeight", "seed", "trace"], {
  budget: { help: "safety budget, > 0", note: `${ASSISTANT_COST_DEFAULT.budget} for chat prompts on the built-in "assistant" model` },
  seed: {
    help: "base seed: each row's seed is derived from S and its id, as batch --seed S\ndoes",
    defaultText: "a random one, chosen by the queue's first push and kept",
  },
  trace: { help: "add every block's candidates to each result line" },
})}
  -h, --help             this help
`;

export const STATUS_HELP = `Usage: inference-guard queue status --queue NAME [--redis URL] [--json]

Prints the queue's rows waiting, active, done and failed (and waiting to be retried), the model
its workers answer with, and each worker: rows done and failed, the row it is answering, or that
it is gone (killed: its row goes back to the queue) or stopped.

${flagHelp(STATUS_FLAGS)}
  -h, --help             this help
`;

export const COLLECT_HELP = `Usage: inference-guard queue collect --queue NAME --out RESULTS.jsonl [--redis URL] [--wait]

Writes exactly one line per row of the queue, in input order: the row's answer in batch's result
format ({id, text, cost, budget, withinBudget, seconds, tokens, method, costModel, stopReason,
fallback, resamples, seed}), or {id, error, attempts} for a row that failed for good. Each line
is written whole (one write, then fsync). Running it again resumes after the last line written.
Without --wait it writes the answers that are ready, in order, up to the first row still waiting
or running, and says which; with --wait it waits for the queue to drain, with a progress bar.

Exit status: 0 every row answered, 1 every row written but some failed, 3 rows still to come
(without --wait), 130 interrupted (run again to resume), 2 a mistake.

${flagHelp(COLLECT_FLAGS)}
  -h, --help             this help
`;

/** push's flags declared elsewhere: the settings (settingFlags.ts). */
const PUSH_SETTING_OPTIONS = settingOptions([...SEARCH_FLAGS, "temperature", "seed", "trace"]);

export const RETRY_HELP = `Usage: inference-guard queue retry --queue NAME [--redis URL]

Puts every row that failed for good back in the queue, for one more try each (BullMQ keeps its
count of attempts): after fixing what made them fail, e.g. workers restarted with a larger
--context-size. A file already collected keeps its error lines: collect into a new --out to have
their answers in place of the errors.

${flagHelp(RETRY_FLAGS)}
  -h, --help             this help
`;

type Out = NodeJS.WritableStream;

export async function queueCommand(argv: string[], out: Out, err: Out): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "-h" || sub === "--help" || sub === "help") {
    out.write(QUEUE_HELP);
    return sub === undefined ? 1 : 0;
  }
  if (sub === "push") return push(rest, out, err);
  if (sub === "status") return status(rest, out);
  if (sub === "collect") return collect(rest, out, err);
  if (sub === "retry") return retry(rest, out, err);
  throw new UserError(`unknown queue subcommand "${sub}": use push, status, collect or retry (see queue --help)`);
}

/** Opens the queue for one command, with Redis checked first (one clear line when it does not answer). */
async function withQueue<T>(connection: QueueConnection, err: Out, use: (queue: ReturnType<typeof openQueue>, store: QueueStore) => Promise<T>): Promise<T> {
  const client = await connectRedis({ url: connection.redis, waitForServer: false, log: (line) => err.write(`inference-guard: ${line}\n`) });
  const queue = openQueue(client, connection.queue);
  try {
    return await use(queue, new QueueStore(client, connection.queue));
  } finally {
    // Bounded: a Redis that is gone or stuck must not hold the command's exit.
    await Promise.race([queue.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    await closeRedis(client);
  }
}

async function push(argv: string[], out: Out, err: Out): Promise<number> {
  const { help, values: f, raw: v } = readFlags(PUSH_FLAGS, argv, notice(err), PUSH_SETTING_OPTIONS);
  if (help) {
    out.write(PUSH_HELP);
    return 0;
  }
  const connection = connectionFlags(f);
  const { in: inputPath, method } = f;
  if (!existsSync(inputPath)) throw new UserError(`input file not found: ${inputPath}`);
  // The base seed, parsed and range-checked by its one declaration (src/settings.ts).
  const { seed } = readSettings(v, ["seed"]) as { seed?: number };
  const settings = parseAsFlags(
    pushSettingsSchema,
    { attempts: f.attempts, backoffMs: f["retry-delay"] },
    { attempts: "--attempts", backoffMs: "--retry-delay" },
  );
  const defaults = readSettings(v, [...SEARCH_FLAGS, "temperature", "trace"]);
  // The names a worker without --cost holds; a worker started otherwise refuses rows naming others.
  const costNames = [DEFAULT_COST_NAME, ASSISTANT_COST_NAME, ...f["cost-model"].map((entry) => entry.split("=")[0]!.trim())];

  return withQueue(connection, err, async (queue, store) => {
    const summary = await pushRows({
      queue,
      store,
      inputPath,
      context: { defaults, method, costNames },
      seed,
      chat: f.chat,
      settings,
      report: (line) => err.write(`inference-guard: ${line}\n`),
    });
    err.write(
      `inference-guard: queue "${connection.queue}" at ${redactUrl(connection.redis)}: ${summary.added} rows added, ${summary.alreadyQueued} already queued, ` +
        `${summary.skipped} lines skipped; base seed ${summary.seed}\n`,
    );
    return summary.skipped > 0 ? 1 : 0;
  });
}

async function status(argv: string[], out: Out): Promise<number> {
  const { help, values: v } = readFlags(STATUS_FLAGS, argv, notice(out));
  if (help) {
    out.write(STATUS_HELP);
    return 0;
  }
  const connection = connectionFlags(v);
  return withQueue(connection, out, async (queue, store) => {
    const s = await queueStatus(queue, store);
    out.write(v.json ? `${JSON.stringify({ redis: redactUrl(connection.redis), ...s })}\n` : formatStatus(s));
    return 0;
  });
}

async function retry(argv: string[], out: Out, err: Out): Promise<number> {
  const { help, values: v } = readFlags(RETRY_FLAGS, argv, notice(err));
  if (help) {
    out.write(RETRY_HELP);
    return 0;
  }
  const connection = connectionFlags(v);
  return withQueue(connection, err, async (queue) => {
    const failed = await queue.getFailedCount();
    if (failed > 0) await queue.retryJobs({ state: "failed" });
    err.write(`inference-guard: ${failed} failed rows are back in queue "${connection.queue}"\n`);
    return 0;
  });
}

async function collect(argv: string[], out: Out, err: Out): Promise<number> {
  const { help, values: v } = readFlags(COLLECT_FLAGS, argv, notice(err));
  if (help) {
    out.write(COLLECT_HELP);
    return 0;
  }
  const connection = connectionFlags(v);
  const outputPath = v.out;

  // Ctrl-C / SIGTERM: stop after the line being written, keep every line (a second one exits at once).
  const controller = new AbortController();
  const removeStopListeners = onStopRequest(() => controller.abort());
  try {
    return await withQueue(connection, err, async (queue, store) => {
      const summary = await collectResults({
        queue,
        store,
        outputPath,
        wait: v.wait,
        signal: controller.signal,
        report: (line) => err.write(`inference-guard: ${line}\n`),
        progressStream: v.quiet ? new Writable({ write: (_chunk, _encoding, done) => done() }) : err,
      });
      const total = summary.alreadyDone + summary.written;
      err.write(`inference-guard: ${summary.written} lines written, ${summary.alreadyDone} already there; ${total} of ${summary.rows} rows in ${outputPath}, ${summary.failed} failed\n`);
      if (summary.interrupted) {
        const why = summary.redisGone === undefined ? "" : ` without Redis at ${redactUrl(connection.redis)} (${summary.redisGone})`;
        err.write(`inference-guard: interrupted${why}; every line written is whole: run the same command again to resume\n`);
        return 130;
      }
      if (!summary.complete) {
        const next = summary.next!;
        err.write(`inference-guard: next in order is row ${JSON.stringify(next.id)} (line ${next.line}), ${next.state}: run again later, or with --wait\n`);
        return 3;
      }
      return summary.failed > 0 ? 1 : 0;
    });
  } finally {
    removeStopListeners();
  }
}
