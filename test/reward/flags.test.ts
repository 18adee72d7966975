// --reward is declared once (src/settings.ts) and reaches every command that loads a guard.
import { BATCH_HELP } from "../../src/cli/batch.js";
import { EVAL_HELP } from "../../src/cli/eval.js";
import { GENERATE_HELP } from "../../src/cli/generate.js";
import { SERVE_HELP } from "../../src/cli/serve.js";
import { TRAIN_CRITIC_HELP } from "../../src/cli/trainCritic.js";
import { WORKER_HELP } from "../../src/cli/worker.js";
import { parseFlags } from "../../src/cli/args.js";
import { RUNTIME_FLAGS, SERVICE_RUNTIME_FLAGS, readRuntime, settingOptions } from "../../src/cli/settingFlags.js";
import { REWARD_SETTING } from "../../src/settings.js";

test.each([
  ["generate", GENERATE_HELP],
  ["serve", SERVE_HELP],
  ["batch", BATCH_HELP],
  ["worker", WORKER_HELP],
  ["eval", EVAL_HELP],
  ["train-critic", TRAIN_CRITIC_HELP],
])("%s --help has --reward", (_name, help) => {
  expect(help).toMatch(/^\s+--reward SPEC\s+\S/m);
});

test("the runtime flags carry the reward spec to createGuard", () => {
  for (const keys of [RUNTIME_FLAGS, SERVICE_RUNTIME_FLAGS]) {
    const v = parseFlags(["--reward", "head:x.json", "--threads", "1"], settingOptions(keys));
    expect(readRuntime(v, keys === SERVICE_RUNTIME_FLAGS)).toMatchObject({ reward: "head:x.json", threads: 1 });
    expect(readRuntime(parseFlags([], settingOptions(keys))).reward).toBeUndefined();
  }
  expect(REWARD_SETTING.flag).toBe("reward");
});
