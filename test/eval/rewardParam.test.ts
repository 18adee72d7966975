// Ranking methods take reward=default|logprob; the config's reward defaults by the prompts' kind.
import { parseMethodSpec } from "../../src/eval/methods.js";
import { resolveEvalSettings } from "../../src/eval/config.js";
import { ASSISTANT_REWARD_DEFAULT } from "../../src/reward/load.js";
import { UserError } from "../../src/errors.js";

test("reward=logprob names the method; the default leaves the name alone; other values are refused", () => {
  expect(parseMethodSpec("guard:reward=logprob").name).toBe("guard:reward=logprob");
  expect(parseMethodSpec("bon:n=4").params.reward).toBe("default");
  expect(parseMethodSpec("beam-safe:reward=logprob:k=2:n=4").params.reward).toBe("logprob");
  expect(() => parseMethodSpec("guard:reward=helpful")).toThrow(UserError);
  // Methods that do not rank by a reward have no such parameter.
  expect(() => parseMethodSpec("sample:reward=logprob")).toThrow(UserError);
});

test("the evaluation's reward: logprob for completion prompts, the assistant reward for chat, a named one wins", () => {
  const base = { prompts: "p.jsonl", methods: "guard" };
  expect(resolveEvalSettings(undefined, base).reward).toBe("logprob");
  const chat = resolveEvalSettings(undefined, { ...base, chat: true });
  expect(chat.reward).toBe(ASSISTANT_REWARD_DEFAULT.spec);
  expect(chat.rewardIsDefault).toBe(true);
  const named = resolveEvalSettings(undefined, { ...base, chat: true, reward: "logprob" });
  expect([named.reward, named.rewardIsDefault]).toEqual(["logprob", false]);
});
