// `inference-guard train-critic`: sample rollouts from a model, train the latent critic on them,
// write a critic file (resumable: rerunning the same command continues after the last epoch).
import { UserError } from "../errors.js";
import { modelFlagOrDefault, modelHelp } from "./modelFlag.js";
import { trainCritic, trainCriticOptionsSchema } from "../critic/trainCritic.js";
import { defaultNote, readSettings, settingOptions } from "./settingFlags.js";
import type { SettingKey } from "../settings.js";

/** The guard's own settings train-critic takes (its defaults may differ: rollouts are 128 tokens). */
const SHARED_SETTINGS = ["budget", "width", "maxTokens", "temperature", "violationPenalty", "seed", "threads"] as const satisfies readonly SettingKey[];
import { CRITIC_ACTIVATIONS } from "../critic/format.js";
import { choiceFlag, numberFlag, parseFlags, stringFlag, type OptionSpec } from "./args.js";
import { onStopRequest } from "./stopRequests.js";

/** "(default X)" of an option, from its schema: --help states the real default. */
const d = (key: keyof typeof trainCriticOptionsSchema.shape): string => defaultNote(trainCriticOptionsSchema.shape[key].parse(undefined));

export const TRAIN_CRITIC_HELP = `Usage: inference-guard train-critic --prompts FILE --cost SPEC --out FILE [options]

Trains the critic the guard uses to rank candidates: a two-head MLP over [hidden state of the
last token, safety state z] that predicts P(the answer ends within budget) and the penalised
return. It samples R continuations of every training prompt from the model, records a state
after every W-token block, labels each state with its rollout's outcome, holds out some
prompts for validation and trains with Adam. Every epoch is checkpointed to <out>.ckpt:
rerunning the same command after a kill resumes there and ends with the same weights.

Data:
${modelHelp(29, "--chat")}
  --prompts FILE             training prompts, JSON Lines {"prompt": "..."} (required unless --rollouts exists)
  --chat                     render each prompt as a user message with the model's chat template
  --cost SPEC                cost model, e.g. rules:models/conflict-lexicon.json (required)
  --reward SPEC              the reward of the value labels, as the guard ranks: logprob or head:PATH
                             (default: logprob; with --chat the assistant reward, as the guard's default)
  --budget D                 safety budget the labels use: safe = final cost <= D ${d("budget")}
  --rollouts FILE            rollout file: reused if it exists (same model required), else sampled and saved there
  --rollouts-per-prompt R    continuations sampled per prompt ${d("rolloutsPerPrompt")}
  --width W                  tokens per block; a state is recorded after each block ${d("width")}
  --max-tokens T             length of each continuation ${d("maxTokens")}
  --temperature X            sampling temperature of the rollouts ${d("temperature")}

Labels:
  --gamma G                  discount per token of the penalised return ${d("gamma")}
  --violation-penalty P      return of a rollout that ends over budget is -P, as in the guard ${d("violationPenalty")}

Training:
  --out FILE                 critic file to write (required); checkpoint: FILE.ckpt
  --epochs E                 passes over the training states ${d("epochs")}
  --lr LR                    Adam learning rate ${d("lr")}
  --batch B                  minibatch rows ${d("batch")}
  --hidden SIZES             hidden layer widths, comma-separated, "" for linear ${d("hidden")}
  --activation A             relu | tanh | gelu | silu ${d("activation")}
  --weight-decay L           decoupled (AdamW) weight decay on the weight matrices ${d("weightDecay")}
  --value-weight X           weight of the value head's squared error in the loss ${d("valueWeight")}
  --safety-weight X          weight of the safety head's cross-entropy in the loss ${d("safetyWeight")}
  --validation-fraction F    share of prompts held out for validation ${d("validationFraction")}
  --seed S                   seeds the rollouts, the split, the init and the shuffles ${d("seed")}
  --threads N                llama.cpp threads for sampling (default: 1 for small models)
  -h, --help                 this help
`;

const OPTIONS: OptionSpec = {
  model: { type: "string" },
  prompts: { type: "string" },
  chat: { type: "boolean" },
  cost: { type: "string" },
  reward: { type: "string" },
  rollouts: { type: "string" },
  "rollouts-per-prompt": { type: "string" },
  gamma: { type: "string" },
  out: { type: "string" },
  epochs: { type: "string" },
  lr: { type: "string" },
  batch: { type: "string" },
  hidden: { type: "string" },
  activation: { type: "string" },
  "weight-decay": { type: "string" },
  "value-weight": { type: "string" },
  "safety-weight": { type: "string" },
  "validation-fraction": { type: "string" },
  ...settingOptions(SHARED_SETTINGS),
  help: { type: "boolean", short: "h" },
};

function hiddenFlag(raw: string | undefined): number[] | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === "") return [];
  const sizes = raw.split(",").map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new UserError(`--hidden expects comma-separated positive integers, got "${raw}"`);
  return sizes;
}

export async function trainCriticCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const v = parseFlags(argv, OPTIONS);
  if (v.help) {
    out.write(TRAIN_CRITIC_HELP);
    return 0;
  }
  const outFile = stringFlag(v, "out");
  if (!outFile) throw new UserError("--out FILE is required (see --help)");
  const cost = stringFlag(v, "cost");
  if (!cost) throw new UserError("--cost SPEC is required, e.g. --cost rules:models/conflict-lexicon.json (see --help)");
  const options = {
    model: modelFlagOrDefault(v, Boolean(v.chat)),
    prompts: stringFlag(v, "prompts"),
    chat: Boolean(v.chat),
    cost,
    ...(stringFlag(v, "reward") !== undefined ? { reward: stringFlag(v, "reward") } : {}),
    out: outFile,
    rollouts: stringFlag(v, "rollouts"),
    rolloutsPerPrompt: numberFlag(v, "rollouts-per-prompt", "int"),
    // The guard's settings, declared once (src/settings.ts): read and range-checked by their flags.
    ...readSettings(v, SHARED_SETTINGS),
    gamma: numberFlag(v, "gamma"),
    epochs: numberFlag(v, "epochs", "int"),
    lr: numberFlag(v, "lr"),
    batch: numberFlag(v, "batch", "int"),
    hidden: hiddenFlag(stringFlag(v, "hidden")),
    activation: choiceFlag(v, "activation", CRITIC_ACTIVATIONS),
    weightDecay: numberFlag(v, "weight-decay"),
    valueWeight: numberFlag(v, "value-weight"),
    safetyWeight: numberFlag(v, "safety-weight"),
    validationFraction: numberFlag(v, "validation-fraction"),
    command: ["inference-guard", "train-critic", ...argv],
  };
  // Ctrl-C / SIGTERM stops after the current epoch (its checkpoint written); a second one exits at once.
  const controller = new AbortController();
  const removeStopListeners = onStopRequest(() => {
    err.write("inference-guard: stopping after this epoch (Ctrl-C again to exit now; rerun to resume)\n");
    controller.abort();
  });
  try {
    const result = await trainCritic(
      Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Parameters<typeof trainCritic>[0],
      { log: (line) => out.write(line + "\n"), progressStream: err, signal: controller.signal },
    );
    return result.out ? 0 : 130;
  } finally {
    removeStopListeners();
  }
}
