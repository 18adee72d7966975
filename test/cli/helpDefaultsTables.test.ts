// Each command's own flags are declared once (src/cli/flagTable.ts): its --help names every flag
// of its table and states the default the command really reads when the flag is not given.
import { BATCH_FLAGS, BATCH_HELP } from "../../src/cli/batch.js";
import { readFlags, type FlagTable } from "../../src/cli/flagTable.js";
import { EVAL_DEFAULTS, EVAL_FLAGS, EVAL_HELP } from "../../src/cli/eval.js";
import { GENERATE_FLAGS, GENERATE_HELP } from "../../src/cli/generate.js";
import { LIST_FLAGS, MODELS_HELP } from "../../src/cli/models.js";
import { COLLECT_FLAGS, COLLECT_HELP, PUSH_FLAGS, PUSH_HELP, RETRY_FLAGS, RETRY_HELP, STATUS_FLAGS, STATUS_HELP } from "../../src/cli/queue.js";
import { SERVE_FLAGS, SERVE_HELP } from "../../src/cli/serve.js";
import { serverConfigSchema } from "../../src/server/config.js";
import { WORKER_FLAGS, WORKER_HELP } from "../../src/cli/worker.js";
import { CRITIC_EVIDENCE_FLAGS, CRITIC_EVIDENCE_HELP } from "../../src/cli/criticEvidence.js";
import { TRAIN_COST_FLAGS, TRAIN_COST_HELP } from "../../src/cli/trainCost.js";
import { TRAIN_CRITIC_FLAGS, TRAIN_CRITIC_HELP } from "../../src/cli/trainCritic.js";
import { TRAIN_PROBE_FLAGS, TRAIN_PROBE_HELP } from "../../src/cli/trainProbe.js";
import { TRAIN_REWARD_FLAGS, TRAIN_REWARD_HELP } from "../../src/cli/trainReward.js";
import { evalConfigSchema } from "../../src/eval/config.js";
import { DEFAULT_REDIS_URL, pushSettingsSchema, workerSettingsSchema } from "../../src/queue/config.js";
import { statedDefaults } from "../helpers/helpText.js";


/** command, its table, its help, the smallest argv its table accepts. */
const COMMANDS: [string, FlagTable, string, string[]][] = [
  ["batch", BATCH_FLAGS, BATCH_HELP, ["--in", "a.jsonl", "--out", "b.jsonl"]],
  ["worker", WORKER_FLAGS, WORKER_HELP, ["--queue", "q"]],
  ["queue push", PUSH_FLAGS, PUSH_HELP, ["--queue", "q", "--in", "a.jsonl"]],
  ["queue status", STATUS_FLAGS, STATUS_HELP, ["--queue", "q"]],
  ["queue collect", COLLECT_FLAGS, COLLECT_HELP, ["--queue", "q", "--out", "b.jsonl"]],
  ["queue retry", RETRY_FLAGS, RETRY_HELP, ["--queue", "q"]],
  ["models list", LIST_FLAGS, MODELS_HELP, []],
  ["generate", GENERATE_FLAGS, GENERATE_HELP, ["--prompt", "Once"]],
  ["eval", EVAL_FLAGS, EVAL_HELP, ["--out", "dir"]],
  ["serve", SERVE_FLAGS, SERVE_HELP, []],
  ["train-cost", TRAIN_COST_FLAGS, TRAIN_COST_HELP, ["--out", "x.bin"]],
  ["train-critic", TRAIN_CRITIC_FLAGS, TRAIN_CRITIC_HELP, ["--out", "c.bin", "--cost", "rules:x.json"]],
  ["train-reward", TRAIN_REWARD_FLAGS, TRAIN_REWARD_HELP, ["--out", "h.json"]],
  ["train-probe", TRAIN_PROBE_FLAGS, TRAIN_PROBE_HELP, ["--out", "p.json"]],
  ["critic-evidence", CRITIC_EVIDENCE_FLAGS, CRITIC_EVIDENCE_HELP, ["--critic", "c.bin", "--prompts", "p.jsonl", "--cost", "rules:x.json", "--out", "o.md"]],
];

describe.each(COMMANDS)("%s --help", (_name, table, help, minimal) => {
  test("names every flag of the table once", () => {
    for (const name of Object.keys(table)) {
      const lines = help.split("\n").filter((l) => new RegExp(`^  (?:-\\w, )?--${name}(?![a-z0-9-])`).test(l));
      expect([name, lines.length]).toEqual([name, 1]);
    }
  });

  test("states the defaults the command reads", () => {
    const { values } = readFlags(table, minimal, () => {});
    const stated = statedDefaults(help);
    for (const [name, flag] of Object.entries(table)) {
      if (flag.default === undefined) continue;
      expect([name, (values as Record<string, unknown>)[name]]).toEqual([name, flag.default]);
      expect([name, stated.get(`--${name}`)]).toEqual([name, flag.defaultText ?? String(flag.default)]);
    }
  });
});

test("batch: --method's stated default is guard, the one runBatch gets", () => {
  expect(statedDefaults(BATCH_HELP).get("--method")).toBe("guard");
  expect(readFlags(BATCH_FLAGS, ["--in", "a", "--out", "b"], () => {}).values.method).toBe("guard");
});

test("worker: the failure-handling defaults stated are the queue's own (workerSettingsSchema)", () => {
  const d = workerSettingsSchema.parse({});
  const stated = statedDefaults(WORKER_HELP);
  expect(Object.fromEntries(["--lock-duration", "--stalled-interval", "--max-stalled", "--stop-wait"].map((f) => [f, stated.get(f)]))).toEqual({
    "--lock-duration": String(d.lockDurationMs),
    "--stalled-interval": String(d.stalledIntervalMs),
    "--max-stalled": String(d.maxStalledCount),
    "--stop-wait": String(d.stopWaitMs),
  });
});

test("queue push: --attempts and --retry-delay state pushSettingsSchema's defaults; --redis the built-in URL", () => {
  const d = pushSettingsSchema.parse({});
  const stated = statedDefaults(PUSH_HELP);
  expect([stated.get("--attempts"), stated.get("--retry-delay")]).toEqual([String(d.attempts), String(d.backoffMs)]);
  expect(stated.get("--redis")).toMatch(new RegExp(`else ${DEFAULT_REDIS_URL.replace(/[.]/g, "\\.")}$`));
  expect(PUSH_HELP).toMatch(/--queue NAME +the queue: .* \(required\)/);
});

test("eval: --seeds and --scan-width state the config's defaults, and leave the config's value when not given", () => {
  const schema = evalConfigSchema.shape;
  const stated = statedDefaults(EVAL_HELP);
  expect([stated.get("--seeds"), stated.get("--scan-width"), stated.get("--max-tokens")]).toEqual([
    schema.seeds.parse(undefined).join(","),
    String(schema.scanWidth.parse(undefined)),
    String(schema.maxTokens.parse(undefined)),
  ]);
  expect(EVAL_DEFAULTS.seeds).toEqual(schema.seeds.parse(undefined));
  const { values } = readFlags(EVAL_FLAGS, ["--out", "d"], () => {});
  expect([values.seeds, values["scan-width"]]).toEqual([undefined, undefined]);
  expect(readFlags(EVAL_FLAGS, ["--out", "d", "--seeds", "3,4"], () => {}).values.seeds).toEqual([3, 4]);
});

test("serve: the network defaults stated are the server's own (serverConfigSchema)", () => {
  const d = serverConfigSchema.parse({});
  const stated = statedDefaults(SERVE_HELP);
  expect(["--host", "--port", "--max-queue", "--body-limit", "--shutdown-grace"].map((f) => stated.get(f))).toEqual(
    [d.host, d.port, d.maxQueue, d.bodyLimit, d.shutdownGraceSeconds].map(String),
  );
});
