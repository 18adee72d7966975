// The `inference-guard` command: dispatches to one module per subcommand and turns user
// mistakes (UserError) into one line on stderr and a non-zero exit, never a stack trace.
import { GuardModelNotFoundError, UserError } from "../errors.js";
import { MODEL_ENV } from "../paths.js";

export type Command = (argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream) => Promise<number>;

// Each command lives in its own module, imported only when used (the server's framework,
// for one, is not loaded to generate a single answer).
const COMMANDS: Record<string, { load: () => Promise<Command>; summary: string }> = {
  generate: {
    load: async () => (await import("./generate.js")).generateCommand,
    summary: "answer one prompt within a safety budget (or with a baseline method)",
  },
  "train-critic": { load: async () => (await import("./trainCritic.js")).trainCriticCommand, summary: "train the latent critic on rollouts sampled from a model" },
  "critic-evidence": { load: async () => (await import("./criticEvidence.js")).criticEvidenceCommand, summary: "measure a critic on held-out prompts (violation AUC; guard with vs without it) into a report" },
  serve: { load: async () => (await import("./serve.js")).serveCommand, summary: "OpenAI-compatible HTTP server (chat/completions, streaming) with every answer guarded" },
  batch: { load: async () => (await import("./batch.js")).batchCommand, summary: "answer a JSONL file of prompts into a JSONL file of results (resumable)" },
  queue: { load: async () => (await import("./queue.js")).queueCommand, summary: "batch across machines on Redis: push a JSONL file, check status, collect results in input order" },
  worker: { load: async () => (await import("./worker.js")).workerCommand, summary: "answer the rows of a queue (one per machine or core; see queue --help)" },
  "train-reward": { load: async () => (await import("./trainReward.js")).trainRewardCommand, summary: "train a helpfulness reward head on a chat model's own hidden states (--reward head:FILE)" },
  "train-probe": { load: async () => (await import("./trainProbe.js")).trainProbeCommand, summary: "train a latent probe cost model on the model's own hidden states (--cost probe:FILE)" },
  eval: { load: async () => (await import("./eval.js")).evalCommand, summary: "run every decoding method on the same prompts and seeds; report reward, cost, safety rate, time (resumable)" },
  cost: { load: async () => (await import("./cost.js")).costCommand, summary: "score a JSONL file of texts with a cost model (one JSON line per text)" },
  models: { load: async () => (await import("./models.js")).modelsCommand, summary: "fetch a known model (smollm2-135m-instruct: a chat model) and list them; --model NAME then works everywhere" },
  "train-cost": { load: async () => (await import("./trainCost.js")).trainCostCommand, summary: "train the harm classifier cost model (--cost classifier:FILE) on the shared safety data" },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`);
  return `Usage: inference-guard <command> [options]

Safe-almost-surely generation for local GGUF models (InferenceGuard, arXiv 2502.01208).

Commands:
${lines.join("\n")}

Run \`inference-guard <command> --help\` for a command's options.
`;
}

export async function runCli(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    out.write(usage());
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    err.write(`inference-guard: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await command.load())(rest, out, err);
  } catch (error) {
    // The library's message names its `model` option; on the command line it is --model.
    if (error instanceof GuardModelNotFoundError) {
      err.write(`inference-guard: model file not found: ${error.path} (pass --model PATH or set ${MODEL_ENV})\n`);
      return 2;
    }
    if (error instanceof UserError) {
      err.write(`inference-guard: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
