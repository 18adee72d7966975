// `inference-guard train-critic`: sample rollouts from a model, train the latent critic on them,
// write a critic file (resumable: rerunning the same command continues after the last epoch).
import { UserError } from "../errors.js";
import { modelFlagOrDefault, modelHelp } from "./modelFlag.js";
import { trainCritic, trainCriticOptionsSchema } from "../critic/trainCritic.js";
import { CRITIC_ACTIVATIONS } from "../critic/format.js";
import type { SettingKey } from "../settings.js";
import { definedOnly, readSettings, settingHelp, settingOptions, type HelpOverride } from "./settingFlags.js";
import { choice, flagHelp, float, int, readFlags, text, type FlagTable } from "./flagTable.js";
import { batchSize, epochs, lr, validationFraction } from "./trainingFlags.js";
import { onStopRequest } from "./stopRequests.js";

/** The guard's own settings train-critic takes (its defaults may differ: rollouts are 128 tokens). */
const SHARED_SETTINGS = ["budget", "width", "maxTokens", "temperature", "violationPenalty", "seed", "threads"] as const satisfies readonly SettingKey[];

/** The trainer's default of an option (trainCriticOptionsSchema): the table and help state it. */
const S = trainCriticOptionsSchema.shape;
const dflt = <K extends keyof typeof S>(key: K): NonNullable<ReturnType<(typeof S)[K]["parse"]>> => S[key].parse(undefined) as never;

/** Help's column: the longest flag (--rollouts-per-prompt R) fits. */
const COLUMN = 29;

/** train-critic's own flags (the settings are src/settings.ts's, --model modelFlag.ts's). */
export const TRAIN_CRITIC_FLAGS = {
  prompts: { metavar: "FILE", help: 'training prompts, JSON Lines {"prompt": "..."} (required unless --rollouts exists)' },
  chat: { help: "render each prompt as a user message with the model's chat template" },
  cost: { metavar: "SPEC", help: "cost model, e.g. rules:models/conflict-lexicon.json", required: "e.g. --cost rules:models/conflict-lexicon.json" },
  rollouts: { metavar: "FILE", help: "rollout file: reused if it exists (same model required), else sampled and saved there" },
  "rollouts-per-prompt": { metavar: "R", help: "continuations sampled per prompt", parse: int(1), default: dflt("rolloutsPerPrompt") },
  gamma: { metavar: "G", help: "discount per token of the penalised return", parse: float(), default: dflt("gamma") },
  out: { metavar: "FILE", help: "critic file to write; checkpoint: FILE.ckpt", required: true },
  epochs: epochs(dflt("epochs"), { help: "passes over the training states" }),
  lr: lr(dflt("lr"), { help: "Adam learning rate" }),
  "batch-size": batchSize(dflt("batch"), { help: "minibatch rows", aliases: ["batch"] }),
  hidden: { metavar: "SIZES", help: 'hidden layer widths, comma-separated, "" for linear', parse: hiddenFlag, default: dflt("hidden"), defaultText: dflt("hidden").join(",") },
  activation: { metavar: "A", help: CRITIC_ACTIVATIONS.join(" | "), parse: choice(CRITIC_ACTIVATIONS), default: dflt("activation") },
  "weight-decay": { metavar: "L", help: "decoupled (AdamW) weight decay on the weight matrices", parse: float(), default: dflt("weightDecay") },
  "value-weight": { metavar: "X", help: "weight of the value head's squared error in the loss", parse: float(), default: dflt("valueWeight") },
  "safety-weight": { metavar: "X", help: "weight of the safety head's cross-entropy in the loss", parse: float(), default: dflt("safetyWeight") },
  "validation-fraction": validationFraction(dflt("validationFraction"), { help: "share of prompts held out for validation" }),
} as const satisfies FlagTable;

const F = TRAIN_CRITIC_FLAGS;

/** How train-critic's help words the settings: its own meaning, and the trainer's defaults where they differ from the guard's. */
const SETTING_HELP: Partial<Record<SettingKey, HelpOverride>> = {
  reward: { help: `the reward of the value labels, as the guard ranks: logprob or head:PATH\n${" ".repeat(COLUMN - 1)}`, defaultText: "logprob; with --chat the assistant reward, as the guard's default" },
  budget: { help: "safety budget the labels use: safe = final cost <= D", defaultText: String(dflt("budget")) },
  width: { help: "tokens per block; a state is recorded after each block", defaultText: String(dflt("width")) },
  maxTokens: { help: "length of each continuation", defaultText: String(dflt("maxTokens")) },
  temperature: { help: "sampling temperature of the rollouts", defaultText: String(dflt("temperature")) },
  violationPenalty: { help: "return of a rollout that ends over budget is -P, as in the guard", defaultText: String(dflt("violationPenalty")) },
  seed: { help: "seeds the rollouts, the split, the init and the shuffles", defaultText: String(dflt("seed")) },
  threads: { help: "llama.cpp threads for sampling", defaultText: "1 for small models" },
};
const settings = (keys: readonly SettingKey[]): string => settingHelp(keys, SETTING_HELP, COLUMN);

export const TRAIN_CRITIC_HELP = `Usage: inference-guard train-critic --prompts FILE --cost SPEC --out FILE [options]

Trains the critic the guard uses to rank candidates: a two-head MLP over [hidden state of the
last token, safety state z] that predicts P(the answer ends within budget) and the penalised
return. It samples R continuations of every training prompt from the model, records a state
after every W-token block, labels each state with its rollout's outcome, holds out some
prompts for validation and trains with Adam. Every epoch is checkpointed to <out>.ckpt:
rerunning the same command after a kill resumes there and ends with the same weights.

Data:
${modelHelp(COLUMN, "--chat")}
${flagHelp(F, ["prompts", "chat", "cost"], COLUMN)}
${settings(["reward", "budget"])}
${flagHelp(F, ["rollouts", "rollouts-per-prompt"], COLUMN)}
${settings(["width", "maxTokens", "temperature"])}

Labels:
${flagHelp(F, ["gamma"], COLUMN)}
${settings(["violationPenalty"])}

Training:
${flagHelp(F, ["out", "epochs", "lr", "batch-size", "hidden", "activation", "weight-decay", "value-weight", "safety-weight", "validation-fraction"], COLUMN)}
${settings(["seed", "threads"])}
  -h, --help                 this help
`;

const SHARED_OPTIONS = { model: { type: "string" as const }, ...settingOptions(["reward", ...SHARED_SETTINGS]) };

function hiddenFlag(values: Record<string, unknown>, name: string): number[] | undefined {
  const raw = text(values, name);
  if (raw === undefined) return undefined;
  if (raw.trim() === "") return [];
  const sizes = raw.split(",").map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new UserError(`--${name} expects comma-separated positive integers, got "${raw}"`);
  return sizes;
}

export async function trainCriticCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { help, values: f, raw: v } = readFlags(F, argv, (line) => err.write(`inference-guard train-critic: ${line}\n`), SHARED_OPTIONS);
  if (help) {
    out.write(TRAIN_CRITIC_HELP);
    return 0;
  }
  const options = definedOnly({
    model: modelFlagOrDefault(v, f.chat),
    prompts: f.prompts,
    chat: f.chat,
    cost: f.cost,
    // The guard's settings, declared once (src/settings.ts): read and range-checked by their flags.
    ...readSettings(v, ["reward", ...SHARED_SETTINGS]),
    out: f.out,
    rollouts: f.rollouts,
    rolloutsPerPrompt: f["rollouts-per-prompt"],
    gamma: f.gamma,
    epochs: f.epochs,
    lr: f.lr,
    batch: f["batch-size"],
    hidden: f.hidden,
    activation: f.activation,
    weightDecay: f["weight-decay"],
    valueWeight: f["value-weight"],
    safetyWeight: f["safety-weight"],
    validationFraction: f["validation-fraction"],
    command: ["inference-guard", "train-critic", ...argv],
  });
  // Ctrl-C / SIGTERM stops after the current epoch (its checkpoint written); a second one exits at once.
  const controller = new AbortController();
  const removeStopListeners = onStopRequest(() => {
    err.write("inference-guard: stopping after this epoch (Ctrl-C again to exit now; rerun to resume)\n");
    controller.abort();
  });
  try {
    const result = await trainCritic(options as Parameters<typeof trainCritic>[0], { log: (line) => out.write(line + "\n"), progressStream: err, signal: controller.signal });
    return result.out ? 0 : 130;
  } finally {
    removeStopListeners();
  }
}
