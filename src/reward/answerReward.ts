// The reward of one finished answer, the same way for every method (an evaluation compares methods
// under one reward): a reward that reads the base model's hidden states gets them by teacher-forcing
// the prompt and the answer through the engine (one prefill into a cleared engine).
import type { Engine } from "../engine/engine.js";
import type { RewardModel, RewardRequest } from "./rewardModel.js";

export async function rewardOfAnswer(
  engine: Engine,
  reward: RewardModel,
  request: RewardRequest,
  answer: { tokenIds: readonly number[]; text: string; sumLogProb: number },
): Promise<number> {
  let hidden: Float32Array | undefined;
  if (reward.needsHidden) {
    engine.clear();
    const row = engine.prefill(0, [...request.promptTokens, ...answer.tokenIds]);
    hidden = engine.hidden(Int32Array.of(row));
    engine.clear();
  }
  const [value] = await reward.score(request, [{ tokens: answer.tokenIds, text: answer.text, sumLogProb: answer.sumLogProb, hidden }]);
  return value!;
}
